"""A kind whose package does not import (a missing dependency): only its specs may break."""

import agentjobs_tally_dependency_that_is_not_installed  # noqa: F401

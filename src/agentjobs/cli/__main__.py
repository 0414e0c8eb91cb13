"""`python -m agentjobs.cli`: the `agentjobs` command without its console script."""

from __future__ import annotations

import sys

from agentjobs.cli import main

sys.exit(main())

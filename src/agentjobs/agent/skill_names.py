"""How a skill is named and where the skills folder is set: what a job spec and the DAG factory
check on every parse of the jobs DAG file, apart from the skill loader (agent/skills.py, which
re-exports both) so a parse does not import the loader."""

from __future__ import annotations

import re

SKILLS_DIR_ENV = "AGENTJOBS_SKILLS_DIR"
# Used with fullmatch, as every pattern that checks input: match() and `$` accept "name\n".
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]*")

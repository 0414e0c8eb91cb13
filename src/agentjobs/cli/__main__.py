"""`python -m agentjobs.cli`: the `agentjobs` command without its console script."""

from __future__ import annotations

import sys

from agentjobs.cli import main

if __name__ == "__main__":  # importing the module (as the packaging test does) runs nothing
    sys.exit(main())

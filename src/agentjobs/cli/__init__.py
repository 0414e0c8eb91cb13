"""The `agentjobs` command: run a job once on the embedded default.

    agentjobs digest [--repo PATH]... [--github OWNER/NAME]... [--feed URL|PATH]...
                     [--date YYYY-MM-DD] [--out DIR] [--max-iterations N] [--max-tokens N]
                     [--max-cost-usd X]
    agentjobs run JOB [--date YYYY-MM-DD] [--team ID]... [--out DIR] [caps as above]
    agentjobs eval JOB --llm-conn CONN_ID [--runs LAST_N] [--skills DIR] [--out DIR] [--json]
    agentjobs check JOB|SPEC.yaml [--date YYYY-MM-DD] [--out DIR]
    agentjobs inputs [KIND] [--markdown]
    agentjobs business-db [--out PATH] [--seed N] [--postgres-uri URI] [--force] [--schema ledgerly]
    agentjobs init [DAGS_FOLDER] [--force]
    agentjobs local-model [--host HOST] [--port PORT] [--ctx-size N]

It runs the same DAG the scheduler runs (built from include/jobs/daily-digest.yaml), with
`dag.test()` on a SQLite metadata DB under the output folder, so nothing needs a server.
The model is OPENAI_BASE_URL / OPENAI_API_KEY / AGENTJOBS_MODEL when set, else the
`agentjobs_llm_default` connection when one is defined, else the embedded local model.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from agentjobs.cli.args import parse_args
from agentjobs.cli.business_db import business_db
from agentjobs.cli.check import check_job
from agentjobs.cli.digest import run_digest
from agentjobs.cli.evaluate import run_eval
from agentjobs.cli.init import run_init
from agentjobs.cli.inputs import list_inputs
from agentjobs.cli.local_model import local_model_server
from agentjobs.cli.run import run_job
from agentjobs.dag_test import NothingRan

COMMANDS = {
    "digest": run_digest,
    "run": run_job,
    "eval": run_eval,
    "check": check_job,
    "inputs": list_inputs,
    "business-db": business_db,
    "init": run_init,
    "local-model": local_model_server,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("agentjobs: interrupted", file=sys.stderr)
        return 130
    except NothingRan as exc:  # the user's choice of day, not a fault: say why, no class name
        print(f"agentjobs: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from agentjobs.agent.scrub import scrub

        print(f"agentjobs: {type(exc).__name__}: {scrub(' '.join(str(exc).split()))[:500]}", file=sys.stderr)
        return 1

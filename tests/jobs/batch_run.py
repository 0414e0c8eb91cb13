"""One dag.test() run of a job spec in a process of its own: `python -m tests.jobs.batch_run SPEC.json
LOGICAL_DATE`. The batch_notifications kill test SIGKILLs it mid-run, as a worker dies. It inherits the
test session's environment (AIRFLOW_HOME, metadata DB, connections) from the pytest process."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path


def main(spec_file: str, logical_date: str) -> int:
    from agentjobs.dag_test import run_dag_once
    from agentjobs.jobs.spec import JobSpec
    from agentjobs.operators.factory import build_dag

    spec = JobSpec.model_validate_json(Path(spec_file).read_text(encoding="utf-8"))
    run = run_dag_once(build_dag(spec), logical_date=datetime.fromisoformat(logical_date))
    return 0 if run.state == "success" else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))

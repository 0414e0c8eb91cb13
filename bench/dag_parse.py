"""How long the DAG processor (and every task, at start-up) takes to parse the jobs DAG file.

Each sample is a fresh Python process that imports airflow.sdk (the DAG processor has it
loaded already) and then times `runpy.run_path` of one DAG file. The baseline, measured in the
same run, is a plain DAG file with the same number of DAGs and tasks made of EmptyOperators:
the ratio is what the agentjobs DAG file costs over Airflow's own floor.

    python bench/dag_parse.py [--samples 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAG_FILE = REPO / "dags" / "agentjobs_jobs.py"

# Parse the DAG file named by argv[1] in this fresh process; `dags` are the DAGs it made.
_PARSE = """
import json, runpy, sys, time
import airflow.sdk
started = time.perf_counter()
namespace = runpy.run_path(sys.argv[1])
elapsed = time.perf_counter() - started
found = [*namespace.values(), *(d for v in namespace.values() if isinstance(v, dict) for d in v.values())]
dags = [d for d in found if type(d).__name__ == "DAG"]
"""
_TIMED = (
    _PARSE
    + """
print(json.dumps({"seconds": elapsed, "dags": len(dags), "tasks": sum(len(d.tasks) for d in dags),
                  "openai_imported": "openai" in sys.modules}))
"""
)
_SHAPE = (
    _PARSE
    + """
print(json.dumps({d.dag_id: len(d.tasks) for d in dags}))
"""
)

_BASELINE = '''"""Baseline for bench/dag_parse.py: airflow dag, same shape, EmptyOperators only."""
from datetime import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

SHAPE = {shape}
DAGS = {{}}
for dag_id, tasks in SHAPE.items():
    with DAG(dag_id, schedule="0 3 * * *", start_date=datetime(2026, 1, 1), catchup=False) as dag:
        previous = None
        for n in range(tasks):
            task = EmptyOperator(task_id=f"t{{n}}")
            if previous is not None:
                previous >> task
            previous = task
    DAGS[dag_id] = dag
'''


def sample(dag_file: Path, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _TIMED, str(dag_file)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AGENTJOBS_JOBS_DIR": str(REPO / "include" / "jobs"),
            "PYTHONPATH": str(REPO / "src"),
        }
        ours = [sample(DAG_FILE, env) for _ in range(args.samples)]
        # The baseline has the shape the jobs DAG file produced: as many DAGs, as many tasks.
        shape = json.loads(
            subprocess.run(
                [sys.executable, "-c", _SHAPE, str(DAG_FILE)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        baseline_file = Path(home) / "baseline_dag.py"
        baseline_file.write_text(_BASELINE.format(shape=repr(shape)))
        base = [sample(baseline_file, env) for _ in range(args.samples)]
    ours_s = statistics.median(float(s["seconds"]) for s in ours)
    base_s = statistics.median(float(s["seconds"]) for s in base)
    first = ours[0]
    print(f"jobs DAG file: {first['dags']} DAGs, {first['tasks']} tasks")
    print(f"openai SDK imported while parsing: {first['openai_imported']}")
    print(
        f"median parse over {args.samples} fresh processes: agentjobs {ours_s:.3f}s, baseline {base_s:.3f}s"
    )
    print(f"ratio agentjobs/baseline: {ours_s / base_s:.2f}")


if __name__ == "__main__":
    main()

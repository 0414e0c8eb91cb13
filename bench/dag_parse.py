"""How long Airflow's DagBag takes to parse each DAG file in dags/, and whether it touches the network.

Each sample is a fresh Python process that imports Airflow (the DAG processor has it loaded
already), blocks every outgoing socket connection and name lookup (counting the attempts), and
times `DagBag(dag_folder=<one file>)`: Airflow's own parse of that file. Two baselines are
parsed the same way in the same run: an empty DAG file (one DAG, one EmptyOperator), the
floor of any DAG file, and a plain file with the same DAGs and task counts as the jobs DAG
file, so the ratio shows what agentjobs costs beyond the shape it builds.

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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, Result, markdown_table

DAGS_DIR = REPO / "dags"
GOAL_MS = 150.0

# Parse the file named by argv[1] with a DagBag in this fresh process; no network allowed.
_PARSE = """
import json, socket, sys, time
attempts = []
def _refuse(*args, **kwargs):
    attempts.append(repr(args[:2]))
    raise OSError("bench/dag_parse.py: no network while parsing a DAG file")
socket.socket.connect = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
elapsed = time.perf_counter() - started
print(json.dumps({
    "seconds": elapsed,
    "dags": {d: len(bag.dags[d].tasks) for d in bag.dags},
    "import_errors": len(bag.import_errors),
    "network_attempts": attempts,
    "openai_imported": "openai" in sys.modules,
}))
"""

_EMPTY = '''"""Baseline for bench/dag_parse.py: the smallest airflow dag file."""
from datetime import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("empty", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    EmptyOperator(task_id="nothing")
'''

_SAME_SHAPE = '''"""Baseline for bench/dag_parse.py: airflow dag, same shape, EmptyOperators only."""
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


def parse_once(dag_file: Path, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PARSE, str(dag_file)], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"parsing {dag_file.name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_ms(dag_file: Path, env: dict[str, str], samples: int) -> tuple[float, dict[str, object]]:
    runs = [parse_once(dag_file, env) for _ in range(samples)]
    return statistics.median(float(r["seconds"]) for r in runs) * 1000, runs[0]


def measure(quick: bool = False, samples: int | None = None) -> list[Result]:
    samples = samples or (3 if quick else 7)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AGENTJOBS_JOBS_DIR": str(REPO / "include" / "jobs"),
            "AGENTJOBS_SKILLS_DIR": str(REPO / "include" / "skills"),
            "PYTHONPATH": str(REPO / "src"),
        }
        empty = Path(home) / "empty_dag.py"
        empty.write_text(_EMPTY)
        empty_ms, _ = median_ms(empty, env, samples)
        for dag_file in sorted(DAGS_DIR.glob("*.py")):
            ours_ms, first = median_ms(dag_file, env, samples)
            shape: dict[str, int] = first["dags"]  # type: ignore[assignment]
            attempts: list[str] = first["network_attempts"]  # type: ignore[assignment]
            note = (
                f"{len(shape)} DAGs, {sum(shape.values())} tasks, {first['import_errors']} import errors; "
                f"network attempts: {len(attempts)}; openai imported: {first['openai_imported']}; "
                f"baseline: an empty DAG file; median of {samples} fresh processes"
            )
            met = ours_ms <= GOAL_MS and not attempts
            results.append(
                Result(
                    "DAG parse",
                    dag_file.name,
                    ours_ms,
                    empty_ms,
                    "ms",
                    f"≤{GOAL_MS:.0f} ms, no network",
                    met,
                    note,
                )
            )
            if len(shape) > 1:
                same = Path(home) / "same_shape_dag.py"
                same.write_text(_SAME_SHAPE.format(shape=repr(shape)))
                same_ms, _ = median_ms(same, env, samples)
                results.append(
                    Result(
                        "DAG parse",
                        f"{dag_file.name} vs same shape",
                        ours_ms,
                        same_ms,
                        "ms",
                        "-",
                        None,
                        "baseline: the same DAGs and task counts made of EmptyOperators",
                    )
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args()
    print(markdown_table(measure(samples=args.samples)))


if __name__ == "__main__":
    main()

"""How long Airflow's DagBag takes to parse each DAG file in dags/, and whether it touches the network.

Each sample is a fresh Python process set up as the DAG processor's parsing process is: Airflow
imported, and the airflow.* modules the file names (the processor imports them before it forks
the parsing process: `parsing_pre_import_modules`, on by default), then the heap frozen
(`gc.freeze()`: the processor's manager freezes its heap before it forks a process per file,
airflow/dag_processing/manager.py, so a parse never walks Airflow's own objects in a garbage
collection), every outgoing socket connection and name lookup blocked (the note counts
attempts). It times `DagBag(dag_folder=<one file>)`, Airflow's own parse of
that file, in wall time and in the process's CPU time (which other load on a shared machine
disturbs less). Bytecode is cached as in an installed package: a first, uncounted round writes
it. Two baselines are parsed the same way: an empty DAG file (one DAG, one EmptyOperator), the
floor of any DAG file, and a plain file with the same DAGs and task counts as the jobs DAG
file, so the ratio shows what agentjobs costs beyond the shape it builds. The samples of all
files are interleaved, so a burst of other load on the machine falls on every file alike.

Beside the CPU time, the jobs file and its same-shape baseline are parsed once more each under
callgrind (bench/support/callgrind.py; skipped with a reason where valgrind is missing, or with
--no-instructions), counting the instructions of the DagBag alone: a count that does not move
with the machine's load or speed. It leaves out the kernel's work for the parse (reading ~110
modules' bytecode and the specs) and how fast the CPU runs the code (the jobs file runs several
times more distinct code than the baseline, so its CPU-time ratio is above its instruction ratio).

    python bench/dag_parse.py [--samples 7] [--no-instructions]
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
from support import callgrind

DAGS_DIR = REPO / "dags"
GOAL_MS = 150.0  # any DAG file of ours
GOAL_MS_BY_FILE = {"agentjobs_spec_errors.py": 50.0}  # it only reports broken specs
GOAL_SAME_SHAPE_RATIO = 8.0  # the jobs file against the same DAGs made of EmptyOperators

# Parse the file named by argv[1] with a DagBag in this fresh process; no network allowed.
_PARSE = """
import gc, json, socket, sys, time
attempts = []
def _refuse(*args, **kwargs):
    attempts.append(repr(args[:2]))
    raise OSError("bench/dag_parse.py: no network while parsing a DAG file")
socket.socket.connect = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
import importlib
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports
for module in iter_airflow_imports(sys.argv[1]):  # as the processor's parsing_pre_import_modules
    try:
        importlib.import_module(module)
    except Exception:
        pass
gc.freeze()
counted = sys.argv[2:] == ["counted"]  # under callgrind: count the DagBag alone (bench/support/callgrind.py)
if counted:
    print("ready", flush=True)
    sys.stdin.readline()
started, cpu_started = time.perf_counter(), time.process_time()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
if counted:
    print("done", flush=True)
    sys.stdin.readline()
print(json.dumps({
    "seconds": elapsed,
    "cpu_seconds": cpu,
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


def sample(files: list[Path], env: dict[str, str], samples: int) -> dict[Path, tuple[float, float]]:
    """Median wall and CPU milliseconds per file, the files' samples interleaved round by round."""
    runs: dict[Path, list[dict[str, object]]] = {f: [] for f in files}
    for _ in range(samples):
        for dag_file in files:
            runs[dag_file].append(parse_once(dag_file, env))
    return {
        f: (
            statistics.median(float(r["seconds"]) for r in rs) * 1000,  # type: ignore[arg-type]
            statistics.median(float(r["cpu_seconds"]) for r in rs) * 1000,  # type: ignore[arg-type]
        )
        for f, rs in runs.items()
    }


def parse_env(home: str) -> dict[str, str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AGENTJOBS_JOBS_DIR": str(REPO / "include" / "jobs"),
        "AGENTJOBS_SKILLS_DIR": str(REPO / "include" / "skills"),
        "PYTHONPATH": str(REPO / "src"),
        # An installed package has its bytecode (pip compiles it); a checkout run with
        # PYTHONDONTWRITEBYTECODE would compile every module on every parse instead.
        "PYTHONPYCACHEPREFIX": str(Path(home) / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def count_instructions(files: list[Path], env: dict[str, str]) -> tuple[dict[Path, int], str]:
    """The instructions of each file's DagBag, one process a file under callgrind, or why not."""
    why = callgrind.available()
    if why:
        return {}, why
    counts: dict[Path, int] = {}
    env = {**env, "PYTHONHASHSEED": callgrind.HASH_SEED}
    with tempfile.TemporaryDirectory() as out:
        for dag_file in files:
            argv = callgrind.command([sys.executable, "-c", _PARSE, str(dag_file), "counted"], Path(out))
            process = subprocess.Popen(
                argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            try:
                _read_until(process, "ready")
                counts[dag_file] = callgrind.count(
                    process.pid, Path(out), lambda process=process: _step(process, "done")
                )
                process.communicate("\n", timeout=300)
            except RuntimeError as exc:
                return {}, f"not counted: {exc}"
            finally:
                process.kill()
                process.wait()
    return counts, ""


def _step(process: subprocess.Popen[str], expected: str) -> None:
    assert process.stdin is not None
    process.stdin.write("\n")
    process.stdin.flush()
    _read_until(process, expected)


def _read_until(process: subprocess.Popen[str], expected: str) -> None:
    """Airflow logs to stdout too: skip its lines until the parse script's own word."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == expected:
            return
    raise RuntimeError(f"the parse under callgrind ended before it said {expected!r}")


def measure(quick: bool = False, samples: int | None = None, instructions: bool = True) -> list[Result]:
    samples = samples or (3 if quick else 7)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as home:
        env = parse_env(home)
        empty, same = Path(home) / "empty_dag.py", Path(home) / "same_shape_dag.py"
        empty.write_text(_EMPTY)
        ours = sorted(DAGS_DIR.glob("*.py"))
        firsts = {f: parse_once(f, env) for f in [empty, *ours]}  # uncounted: writes the bytecode
        shapes = {f: firsts[f]["dags"] for f in ours}
        jobs_file = next((f for f in ours if len(shapes[f]) > 1), None)  # type: ignore[arg-type]
        if jobs_file is not None:
            same.write_text(_SAME_SHAPE.format(shape=repr(shapes[jobs_file])))
            parse_once(same, env)
        timed = sample([empty, *ours, *([same] if jobs_file else [])], env, samples)
        empty_ms, empty_cpu = timed[empty]
        for dag_file in ours:
            results.extend(
                file_rows(dag_file, firsts[dag_file], timed[dag_file], (empty_ms, empty_cpu), samples)
            )
        if jobs_file is not None:
            results.extend(same_shape_rows(jobs_file, timed[jobs_file], timed[same]))
            if instructions:
                results.append(instruction_row(jobs_file, *count_instructions([jobs_file, same], env), same))
    return results


def file_rows(
    dag_file: Path,
    first: dict[str, object],
    ms: tuple[float, float],
    empty: tuple[float, float],
    samples: int,
) -> list[Result]:
    shape: dict[str, int] = first["dags"]  # type: ignore[assignment]
    attempts: list[str] = first["network_attempts"]  # type: ignore[assignment]
    goal = GOAL_MS_BY_FILE.get(dag_file.name, GOAL_MS)
    note = (
        f"{len(shape)} DAGs, {sum(shape.values())} tasks, {first['import_errors']} import errors; "
        f"network attempts: {len(attempts)}; openai imported: {first['openai_imported']}; "
        f"baseline: an empty DAG file; median of {samples} fresh processes, interleaved, "
        "Airflow's heap frozen"
    )
    return [
        Result(
            "DAG parse",
            dag_file.name,
            ms[0],
            empty[0],
            "ms",
            f"≤{goal:.0f} ms, no network",
            ms[0] <= goal and not attempts,
            note,
        ),
        Result("DAG parse", f"{dag_file.name}, CPU time", ms[1], empty[1], "ms", "-", None, "the same runs"),
    ]


def same_shape_rows(dag_file: Path, ours: tuple[float, float], same: tuple[float, float]) -> list[Result]:
    note = "baseline: the same DAGs and task counts made of EmptyOperators"
    ratio_goal = f"ratio ≤{GOAL_SAME_SHAPE_RATIO:g}"
    return [
        Result(
            "DAG parse",
            f"{dag_file.name} vs same shape",
            ours[0],
            same[0],
            "ms",
            ratio_goal,
            ours[0] <= GOAL_SAME_SHAPE_RATIO * same[0],
            note,
        ),
        Result(
            "DAG parse",
            f"{dag_file.name} vs same shape, CPU time",
            ours[1],
            same[1],
            "ms",
            ratio_goal,
            ours[1] <= GOAL_SAME_SHAPE_RATIO * same[1],
            f"{note}; the same runs",
        ),
    ]


def instruction_row(dag_file: Path, counts: dict[Path, int], why: str, same: Path) -> Result:
    metric = f"{dag_file.name} vs same shape, instructions"
    if not counts:
        return Result("DAG parse", metric, float("nan"), None, "M instr", "-", None, why)
    note = (
        "callgrind: user-space instructions of the DagBag alone, one process a file, "
        f"PYTHONHASHSEED={callgrind.HASH_SEED}; the same code counts the same on every run "
        "(the kernel's work and the CPU's speed at the code are in CPU time only)"
    )
    return Result(
        "DAG parse",
        metric,
        counts[dag_file] / 1e6,
        counts[same] / 1e6,
        "M instr",
        "none (noise-free check of the CPU-time ratio)",
        None,
        note,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument(
        "--no-instructions", action="store_true", help="skip counting instructions under callgrind"
    )
    args = parser.parse_args()
    print(markdown_table(measure(samples=args.samples, instructions=not args.no_instructions)))


if __name__ == "__main__":
    main()

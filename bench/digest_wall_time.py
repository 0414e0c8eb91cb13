"""Wall time of `agentjobs digest` on the demo sources with the embedded local model.

Warm: the installed command (this checkout's .venv, model assembled), run twice; the second
run is reported. Cold: a fresh clone and a fresh venv running the README's first command
exactly (pip's cache as this machine has it: the compiled llama.cpp wheel is reused when
cached, which the note says). The breakdown comes from the command's own output lines (when
the local model started, when the run began) and from the task instances in the run's
SQLite metadata DB (fetch, model, validate, deliver), so it costs the run nothing extra.

    python bench/digest_wall_time.py [--cold]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, Result, markdown_table

GOAL_S = 60.0


def _readme_command(marker: str) -> str:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    at = lines.index(f"<!-- {marker} -->")
    return lines[at + 2]


def _timed_lines(
    argv: list[str] | str, cwd: Path, shell: bool = False
) -> tuple[float, list[tuple[float, str]]]:
    """Run a command; (wall seconds, [(seconds since start, line)]) of what it printed."""
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        shell=shell,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
        executable="/bin/bash" if shell else None,
    )
    lines: list[tuple[float, str]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append((time.monotonic() - started, line.rstrip("\n")))
    code = proc.wait()
    wall = time.monotonic() - started
    if code != 0:
        tail = "\n".join(text for _, text in lines[-30:])
        raise RuntimeError(f"{argv!r} exited {code}:\n{tail}")
    return wall, lines


def _first(lines: list[tuple[float, str]], pattern: str) -> float | None:
    for at, text in lines:
        if re.search(pattern, text):
            return at
    return None


def _task_phases(airflow_db: Path) -> dict[str, float]:
    """Seconds per phase from the run's task instances (the newest run of daily_digest)."""
    con = sqlite3.connect(airflow_db)
    try:
        rows = con.execute(
            "select task_id, start_date, end_date from task_instance where dag_id='daily_digest' "
            "and run_id=(select run_id from dag_run where dag_id='daily_digest' order by id desc limit 1)"
        ).fetchall()
    finally:
        con.close()
    phases: dict[str, float] = {}
    for task_id, start, end in rows:
        if not start or not end:
            continue
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        phase = (
            "fetch"
            if task_id.startswith("fetch")
            else "model"
            if "agent" in task_id or "summar" in task_id
            else "validate"
            if "validat" in task_id
            else "deliver"
            if "deliver" in task_id
            else "other tasks"
        )
        phases[phase] = phases.get(phase, 0.0) + seconds
    return phases


def _breakdown(wall: float, lines: list[tuple[float, str]], out: Path) -> str:
    model_started = _first(lines, r"starting the embedded local model")
    run_began = _first(lines, r"agentjobs: digesting ")
    parts = []
    if model_started is not None and run_began is not None:
        parts.append(f"CLI start {model_started:.1f} s, local model start {run_began - model_started:.1f} s")
    phases = _task_phases(out / ".airflow" / "airflow.db")
    in_tasks = sum(phases.values())
    if run_began is not None:
        parts.append(
            f"Airflow (DB init, DAG build, scheduling) {max(0.0, wall - run_began - in_tasks):.1f} s"
        )
    parts.extend(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
    return "; ".join(parts)


def warm(runs: int = 2) -> tuple[float, str]:
    agentjobs = REPO / ".venv" / "bin" / "agentjobs"
    if not agentjobs.exists():
        raise RuntimeError(f"{agentjobs} is missing: run the README's first command once")
    with tempfile.TemporaryDirectory() as tmp:
        result = (0.0, "")
        for n in range(runs):
            out = Path(tmp) / f"run{n}"
            wall, lines = _timed_lines([str(agentjobs), "digest", "--out", str(out)], cwd=REPO)
            result = (wall, _breakdown(wall, lines, out))
        return result


def cold() -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        wall, lines = _timed_lines(_readme_command("digest-command"), cwd=clone, shell=True)
        digest_began = _first(lines, r"starting the embedded local model") or 0.0
        note = f"install {digest_began:.0f} s (fresh clone and venv, pip cache as found), then " + _breakdown(
            wall - digest_began, [(at - digest_began, text) for at, text in lines], clone / "agentjobs-out"
        )
        shutil.rmtree(clone, ignore_errors=True)
        return wall, note


def measure(quick: bool = False, with_cold: bool | None = None) -> list[Result]:
    wall, note = warm(runs=1 if quick else 2)
    results = [
        Result(
            "embedded digest",
            "warm wall time",
            wall,
            None,
            "s",
            f"≤{GOAL_S:.0f} s on 2 cores",
            wall <= GOAL_S,
            note,
        )
    ]
    if with_cold if with_cold is not None else not quick:
        cold_wall, cold_note = cold()
        results.append(
            Result("embedded digest", "cold wall time", cold_wall, None, "s", "-", None, cold_note)
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time a fresh clone and venv")
    args = parser.parse_args()
    print(markdown_table(measure(with_cold=args.cold)))


if __name__ == "__main__":
    main()

"""One team's run of a fan-out job: its key, its folder and its snapshot.

The fetch task returns one `{"team": id, "period": key}` per team it serves; the mapped
per-team tasks get one each. Everything of that team's run lives in
`<artifact base>/<dag_id>/<team id>/<period key>/`, so a clear or a backfill of the same
run finds and overwrites the same place, and the ledger keys its deliveries by
(`<dag_id>/<team id>`, period key, channel, target).

Domain code (no Airflow): the per-team tasks in operators/, the UI and the CLI all find a team's
run here, so each of them names the same folder and the same ledger key.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from agentjobs.jobs.artifacts import dag_folder
from agentjobs.jobs.inputs import RowContractError
from agentjobs.jobs.kinds.base import TeamSnapshot
from agentjobs.lazy_pattern import lazy

SNAPSHOT_FILE = "sql.json"
CONTRACT_ERROR_FILE = "contract-error.txt"
PREVIEW_FILE = "preview.txt"
# A team id becomes a folder name and part of the ledger's job key: a plain, short name only.
# Both patterns are used with fullmatch: `$` with match() would take "t1\n" as "t1".
TEAM_ID_RE = lazy(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
LEDGER_JOB_MAX = 250  # the ledger's `job` column
WINDOW_KEY_RE = lazy(r"(?P<day>\d{4}-\d{2}-\d{2})(?:T(?P<time>\d{4})Z)?")


def check_team_id(team_id: str) -> str:
    if not isinstance(team_id, str) or not TEAM_ID_RE.fullmatch(team_id):
        raise ValueError(
            f"team id {team_id!r} cannot name a run folder; the teams table's ids must be 1-64 letters, "
            "digits, '_', '-' or '.', starting with a letter or digit"
        )
    return team_id


def team_key(team_run: dict[str, Any]) -> tuple[str, str]:
    """(team id, period key) of one mapped task's `team_run`, both checked."""
    if not isinstance(team_run, dict) or "team" not in team_run or "period" not in team_run:
        raise ValueError(f"expected {{'team': ..., 'period': ...}} from the fetch task, got {team_run!r}")
    return check_team_id(team_run["team"]), check_period_key(team_run["period"])


# The XCom key under which each task of a chunk (fan_out.chunk_size > 1) pushes its teams'
# outcomes, team id -> outcome; the UI reads it to show each team's row.
CHUNK_TEAMS_KEY = "teams"
# The XCom key under which a per-team step (validate, apply, publish, deliver) that failed
# leaves its scrubbed error, so the UI row of its team says why, as a chunk's `teams` does.
STEP_FAILURE_KEY = "failure"
# The XCom key under which the fetch task says how many calls each chunk makes at once this run
# (the spec's fan_out.concurrency, or more where chunks were merged: FanOut.layout_for).
CHUNK_CONCURRENCY_KEY = "chunk_concurrency"


def chunks(team_runs: list[dict[str, str]], size: int, chunked: bool | None = None) -> list[Any]:
    """The fetch task's list as the mapped tasks get it: as it is without chunks (a task per
    team), else lists of `size` team runs in order (a task per chunk; the last may be short).
    `chunked` (default: size above 1) asks for lists even of one team each: a spec's `chunks`
    above the teams due makes chunks of one, which the chunk tasks still take as lists."""
    if not (size > 1 if chunked is None else chunked):
        return list(team_runs)
    size = max(1, size)
    return [team_runs[start : start + size] for start in range(0, len(team_runs), size)]


def chunk_team_ids(item: Any) -> list[str]:
    """The team ids one map index of the fetch's list covers: one team, or a chunk's teams."""
    runs = item if isinstance(item, list) else [item]
    return [str(run.get("team", "?")) if isinstance(run, dict) else "?" for run in runs]


def check_period_key(key: Any) -> str:
    """A day (YYYY-MM-DD) or a window's end (YYYY-MM-DDTHHMMZ, UTC: batch_notifications)."""
    match = WINDOW_KEY_RE.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise ValueError(f"period {key!r} is neither a day YYYY-MM-DD nor a window YYYY-MM-DDTHHMMZ")
    day = date.fromisoformat(match["day"]).isoformat()
    if match["time"] and (int(match["time"][:2]) > 23 or int(match["time"][2:]) > 59):
        raise ValueError(f"period {key!r} has no such time of day")
    return day + (f"T{match['time']}Z" if match["time"] else "")


def ledger_key(dag_id: str, team_id: str, period_key: str) -> tuple[str, str]:
    """(job, logical date) of the delivery ledger for one team's period. The ledger's date holds a
    day only, so a window's time of day goes into the job: `<dag>/<team>@HHMMZ`, its day stays."""
    key = check_period_key(period_key)
    day, _, time_of_day = key.partition("T")
    job = ledger_job(dag_id, team_id)
    return (ledger_job(dag_id, f"{team_id}@{time_of_day}") if time_of_day else job), day


def team_dir(dag_id: str, team_id: str, period_key: str) -> Path:
    return dag_folder(dag_id) / check_team_id(team_id) / period_key


def ledger_job(dag_id: str, team_id: str) -> str:
    job = f"{dag_id}/{team_id}"
    if len(job) > LEDGER_JOB_MAX:
        raise ValueError(
            f"{job!r} is longer than the ledger's {LEDGER_JOB_MAX} characters; shorten the dag_id"
        )
    return job


def snapshot_path(work_dir: Path) -> Path:
    # The snapshot models' module costs ~3 ms of a DAG parse, which never needs this path.
    from agentjobs.sources.snapshot import SOURCES_DIR

    return work_dir / SOURCES_DIR / SNAPSHOT_FILE


def contract_error_path(work_dir: Path) -> Path:
    """Where the fetch leaves why the team's rows broke their contract (instead of a snapshot)."""
    from agentjobs.sources.snapshot import SOURCES_DIR  # at run time, as in snapshot_path

    return work_dir / SOURCES_DIR / CONTRACT_ERROR_FILE


def load_snapshot(work_dir: Path) -> TeamSnapshot:
    path = snapshot_path(work_dir)
    broken = contract_error_path(work_dir)
    if broken.is_file():  # this team alone fails, in its own mapped task, before any model call
        raise RowContractError(broken.read_text(encoding="utf-8").strip())
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; clear the run from its 'fetch' task to fetch again")
    return TeamSnapshot.model_validate_json(path.read_text(encoding="utf-8"))

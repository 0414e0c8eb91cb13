"""A job's stored runs, newest first, and what their transcripts say a run spent.

Every run keeps its snapshot in its folder (`<run>/sources/*.json`), so a run can be replayed
on another model long after it was delivered (`agentjobs eval`). A digest's runs are
`<dag_id>/<day>/`, a fan-out job's `<dag_id>/<team>/<period>/`; anything else below the job's
folder (an evaluation's reports, a stray file) is no run. Domain code (no Airflow).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from agentjobs.jobs.artifacts import dag_folder
from agentjobs.jobs.team_run import TEAM_ID_RE, check_period_key

SOURCES_DIR = "sources"  # as sources/snapshot.py names it (not imported: its models are heavy)
TRANSCRIPT_FILE = "transcript.jsonl"


@dataclass(frozen=True)
class StoredRun:
    folder: Path
    period: str
    team: str | None = None

    @property
    def label(self) -> str:
        return f"{self.team}/{self.period}" if self.team else self.period

    def has_snapshot(self) -> bool:
        sources = self.folder / SOURCES_DIR
        return sources.is_dir() and any(sources.glob("*.json"))


def _is_period(name: str) -> bool:
    try:
        return check_period_key(name) == name
    except ValueError:
        return False


Subfolders = Callable[[PurePosixPath], list[str]]  # a folder below the job's → its sub-folders' names


def _periods(names: list[str], last_n: int) -> list[str]:
    found = [name for name in names if _is_period(name)]
    # Keys are ISO days (or days with a UTC time): text order is time order.
    return sorted(found, reverse=True)[:last_n]


def run_folders(
    subfolders: Subfolders, *, fans_out: bool, last_n: int
) -> list[tuple[PurePosixPath, str, str | None]]:
    """(folder below the job's, period, team) of the job's last `last_n` runs; for a fan-out job,
    the last `last_n` of each team. `subfolders` lists one folder, on disk or on a run-file store."""
    top = PurePosixPath()
    if not fans_out:
        return [(top / key, key, None) for key in _periods(subfolders(top), last_n)]
    found: list[tuple[PurePosixPath, str, str | None]] = []
    for team in sorted(name for name in subfolders(top) if TEAM_ID_RE.fullmatch(name)):
        found += [(top / team / key, key, team) for key in _periods(subfolders(top / team), last_n)]
    return found


def stored_runs(dag_id: str, *, fans_out: bool, last_n: int) -> list[StoredRun]:
    """The job's last `last_n` run folders in the artifact base (run_folders)."""
    base = dag_folder(dag_id)
    if not base.is_dir():
        return []

    def subfolders(relative: PurePosixPath) -> list[str]:
        return [p.name for p in (base / relative).iterdir() if p.is_dir()]

    chosen = run_folders(subfolders, fans_out=fans_out, last_n=last_n)
    return [StoredRun(base / relative, period, team) for relative, period, team in chosen]


def transcript_usage(path: Path) -> dict[str, Any]:
    """What a run's transcript says it spent: model calls, tokens (the endpoint's own `usage`),
    seconds from its first event to its last, and the model; empty when there is no transcript."""
    if not path.is_file():
        return {}
    calls = tokens = prompt = completion = 0
    first = last = None
    model = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:  # a line cut by a killed task: the rest still counts
            continue
        if not isinstance(event, dict):
            continue
        ts = event.get("ts")
        if isinstance(ts, (int, float)):
            first = ts if first is None else first
            last = ts
        if event.get("event") == "start" and model is None:
            model = event.get("model")
        if event.get("event") == "completion":
            calls += 1
            usage = (event.get("response") or {}).get("usage") or {}
            prompt += int(usage.get("prompt_tokens") or 0)
            completion += int(usage.get("completion_tokens") or 0)
            tokens += int(usage.get("total_tokens") or 0)
    latency = round(last - first, 3) if first is not None and last is not None else None
    return {
        "calls": calls,
        "tokens": tokens,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "latency_s": latency,
        "model": model,
    }

"""A run's folder on disk: its artifact, its other files, and a summary of its transcript.

The folder is derived from the job and the run's day (as the tasks derive it), never taken from
a path a task wrote, and every file served must sit directly in it: nothing outside the
artifact base can be reached through the page.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from agentjobs.jobs.artifacts import artifact_base, dag_folder, is_internal
from agentjobs.jobs.digest import DIGEST_FILE
from agentjobs.jobs.team_run import team_dir

TRANSCRIPT_FILE = "transcript.jsonl"
MAX_ARTIFACT_BYTES = 2_000_000  # a page shows at most this much of an artifact


def run_folder(job: str, period: str | None, team: str | None) -> Path | None:
    """`<base>/<job>/<day>` for a digest, `<base>/<job>/<team>/<day>` for a team's run."""
    if not period:
        return None
    try:
        return team_dir(job, team, period) if team else dag_folder(job) / period
    except ValueError:  # a team id or dag_id that cannot name a folder has none
        return None


def artifact_name(kind: str | None) -> str:
    """The file the job's agent task writes: digest.md, or its fan-out kind's artifact."""
    if kind is None or kind == "digest":
        return DIGEST_FILE
    from agentjobs.jobs.kinds.registry import fan_out_kind

    return fan_out_kind(kind).artifact_file


def contained_file(folder: Path, name: str) -> Path | None:
    """`folder/name` when it is a regular file directly in `folder`, inside the artifact base."""
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        return None
    path = folder / name
    try:
        resolved, base = path.resolve(strict=True), artifact_base().resolve()
    except OSError:
        return None
    if resolved.parent != folder.resolve() or base not in resolved.parents or not resolved.is_file():
        return None
    return resolved


def listed_files(folder: Path | None) -> list[tuple[str, int]]:
    """(name, bytes) of every regular file directly in the run folder, by name, but the tasks'
    own bookkeeping (done.json, a write in flight): a person reading a run has no use for them."""
    if folder is None or not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if not is_internal(path.name) and contained_file(folder, path.name) is not None:
            found.append((path.name, path.stat().st_size))
    return found


def read_artifact(folder: Path | None, name: str) -> str | None:
    path = contained_file(folder, name) if folder is not None else None
    if path is None:
        return None
    with path.open("rb") as handle:
        return handle.read(MAX_ARTIFACT_BYTES).decode("utf-8", errors="replace")


@dataclass
class TranscriptSummary:
    """Counts only: what the agent did, with none of what was said (the file holds that)."""

    events: Counter[str] = field(default_factory=Counter)
    tool_calls: Counter[str] = field(default_factory=Counter)
    failed_tool_calls: int = 0
    unreadable_lines: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "events": dict(self.events),
            "tool_calls": dict(self.tool_calls),
            "failed_tool_calls": self.failed_tool_calls,
            "unreadable_lines": self.unreadable_lines,
        }


def summarize_transcript(folder: Path | None) -> TranscriptSummary | None:
    path = contained_file(folder, TRANSCRIPT_FILE) if folder is not None else None
    if path is None:
        return None
    summary = TranscriptSummary()
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                event = json.loads(line)
            except ValueError:
                summary.unreadable_lines += 1
                continue
            if not isinstance(event, dict):
                summary.unreadable_lines += 1
                continue
            kind = str(event.get("event", "?"))
            summary.events[kind] += 1
            if kind == "tool":
                summary.tool_calls[str(event.get("name", "?"))] += 1
                summary.failed_tool_calls += 0 if event.get("ok") else 1
    return summary

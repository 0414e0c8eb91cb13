"""A run's folder: its artifact, its other files, and a summary of its transcript.

The folder is derived from the job and the run's day (as the tasks derive it), never taken from
a path a task wrote, and every file served must sit directly in it: nothing outside the
artifact base can be reached through the page. With a run-file store configured
(hooks/run_file_store.py), the folder is read there (`StoredFolder`), since the tasks' hosts
keep no copy; else on the api-server's disk.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from agentjobs.hooks.run_file_store import Remote, configured_store
from agentjobs.jobs.artifacts import artifact_base, dag_folder, is_internal, relative_folder
from agentjobs.jobs.digest import DIGEST_FILE
from agentjobs.jobs.team_run import team_dir

TRANSCRIPT_FILE = "transcript.jsonl"
MAX_ARTIFACT_BYTES = 2_000_000  # a page shows at most this much of an artifact


@dataclass(frozen=True)
class StoredFolder:
    """A run folder on the run-file store: only the files directly in it are shown."""

    remote: Remote

    def files(self) -> dict[str, int]:
        return {name: size for name, size in self.remote.files().items() if "/" not in name}

    def open(self, name: str) -> IO[bytes]:
        return io.BytesIO(self.remote.fs.cat_file(self.remote.of(name)))


Folder = Path | StoredFolder


def run_folder(job: str, period: str | None, team: str | None) -> Folder | None:
    """`<base>/<job>/<day>` for a digest, `<base>/<job>/<team>/<day>` for a team's run."""
    if not period:
        return None
    try:
        local = team_dir(job, team, period) if team else dag_folder(job) / period
    except ValueError:  # a team id or dag_id that cannot name a folder has none
        return None
    store = configured_store()
    relative = relative_folder(local) if store is not None else None
    if store is None or relative is None:
        return local
    return StoredFolder(store.remote(relative))


def stored_file(folder: StoredFolder, name: str) -> str | None:
    """`name` when it is a file directly in the stored folder."""
    if not _plain_name(name):
        return None
    return name if name in folder.files() else None


def _plain_name(name: str) -> bool:
    """A name the page may serve: one file's, and not the tasks' bookkeeping (done.json, a write
    in flight), which the list hides and a download by its name must not reach either."""
    return bool(name) and "/" not in name and "\\" not in name and not is_internal(name)  # `.`, `..` too


def artifact_name(kind: str | None) -> str:
    """The file the job's agent task writes: digest.md, or its fan-out kind's artifact."""
    if kind is None or kind == "digest":
        return DIGEST_FILE
    from agentjobs.jobs.kinds.registry import fan_out_kind

    return fan_out_kind(kind).artifact_file


def contained_file(folder: Path, name: str) -> Path | None:
    """`folder/name` when it is a regular file directly in `folder`, inside the artifact base."""
    if not _plain_name(name):
        return None
    path = folder / name
    try:
        resolved, base = path.resolve(strict=True), artifact_base().resolve()
    except OSError:
        return None
    if resolved.parent != folder.resolve() or base not in resolved.parents or not resolved.is_file():
        return None
    return resolved


def listed_files(folder: Folder | None) -> list[tuple[str, int]]:
    """(name, bytes) of every regular file directly in the run folder, by name, but the tasks'
    own bookkeeping (done.json, a write in flight): a person reading a run has no use for them."""
    if isinstance(folder, StoredFolder):
        return sorted((name, size) for name, size in folder.files().items() if not is_internal(name))
    if folder is None or not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if not is_internal(path.name) and contained_file(folder, path.name) is not None:
            found.append((path.name, path.stat().st_size))
    return found


def open_file(folder: Folder | None, name: str) -> IO[bytes] | None:
    """The run folder's file `name` opened for reading, or None when it is not one of its files."""
    if isinstance(folder, StoredFolder):
        return folder.open(name) if stored_file(folder, name) is not None else None
    path = contained_file(folder, name) if folder is not None else None
    return path.open("rb") if path is not None else None


def read_artifact(folder: Folder | None, name: str) -> str | None:
    handle = open_file(folder, name)
    if handle is None:
        return None
    with handle:
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


def summarize_transcript(folder: Folder | None) -> TranscriptSummary | None:
    raw = open_file(folder, TRANSCRIPT_FILE)
    if raw is None:
        return None
    summary = TranscriptSummary()
    with io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as handle:
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

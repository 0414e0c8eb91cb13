"""Where a job's files go: `<artifact base>/<dag_id>/`, one folder per run day below it.

Domain code (no Airflow): the period (period.py) and the Airflow tasks (operators/artifacts.py)
both derive their folders from here, so a clear or a backfill of the same day finds and
overwrites the same place.

With a run-file store configured (operators/run_files.py), a task works in a scratch copy of its
folder: `scratch_base` points every folder derived here at that copy for the task's duration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path, PurePosixPath

ARTIFACT_BASE_ENV = "AGENTJOBS_ARTIFACT_BASE"
# The digest job's artifact in its run folder. Here rather than in jobs/digest.py (which re-exports
# it) so the operators that name it while a DAG is built do not import the digest's renderer.
DIGEST_FILE = "digest.md"
# The deliver/apply task's marker beside the artifact that the run's period is done
# (operators/delivered.py writes and reads it). Bookkeeping, not output: the UI page lists no
# internal file (is_internal).
DONE_FILE = "done.json"
INTERNAL_FILES = frozenset({DONE_FILE})


def is_internal(name: str) -> bool:
    """A run folder's file that is the tasks' own: done.json, or a write in flight (atomic_file's
    temp files are hidden, `.<name>.<random>.tmp`, and vanish when the rename lands)."""
    return name in INTERNAL_FILES or name.startswith(".")


# The scratch copy a task works in while a run-file store is configured; None: the base as configured.
_SCRATCH: ContextVar[Path | None] = ContextVar("agentjobs_scratch_base", default=None)


@contextmanager
def scratch_base(path: Path) -> Iterator[Path]:
    """Within this block, `artifact_base()` is `path`: every run folder derived from it is there."""
    token = _SCRATCH.set(path)
    try:
        yield path
    finally:
        _SCRATCH.reset(token)


def artifact_base() -> Path:
    scratch = _SCRATCH.get()
    if scratch is not None:
        return scratch
    configured = os.environ.get(ARTIFACT_BASE_ENV)
    if configured:
        return Path(configured)
    airflow_home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(airflow_home) / "agentjobs-artifacts"


def dag_folder(dag_id: str) -> Path:
    """`<artifact base>/<dag_id>`, refusing a dag_id that would leave the artifact base ('..', '/')."""
    base = artifact_base()
    folder = base / dag_id
    if dag_id in ("", ".", "..") or folder.parent != base:  # '/x' or 'a/b' leave it or nest
        raise ValueError(
            f"dag_id {dag_id!r} would put run files outside {base}; use letters, digits, '_', '-' or '.'"
        )
    return folder


def relative_folder(folder: Path) -> PurePosixPath | None:
    """`folder` below the artifact base (`<dag_id>/...`), or None when it is not below it."""
    try:
        relative = folder.relative_to(artifact_base())
    except ValueError:
        return None
    return PurePosixPath(relative.as_posix()) if relative.parts else None

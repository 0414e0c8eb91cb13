"""Where a job's files go: `<artifact base>/<dag_id>/`, one folder per run day below it.

Domain code (no Airflow): the period (period.py) and the Airflow tasks (operators/artifacts.py)
both derive their folders from here, so a clear or a backfill of the same day finds and
overwrites the same place."""

from __future__ import annotations

import os
from pathlib import Path

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


def artifact_base() -> Path:
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

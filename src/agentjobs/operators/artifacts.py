"""Where a task's run files go: `<artifact base>/<dag_id>/<logical date>`, from its Airflow context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentjobs.jobs.artifacts import dag_folder


def run_key(context: Any) -> str:
    """The logical date as YYYY-MM-DD; a manual run without one uses its run_after date."""
    when = context.get("logical_date")
    if when is None:
        when = context["dag_run"].run_after
    return when.date().isoformat()


def run_dir(context: Any) -> Path:
    return dag_folder(context["dag"].dag_id) / run_key(context)

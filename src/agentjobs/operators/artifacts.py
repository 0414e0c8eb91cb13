"""Where a task's run files go: `<artifact base>/<dag_id>/<logical date>`, from its Airflow context."""

from __future__ import annotations

from datetime import datetime
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


def run_instant(context: Any) -> datetime:
    """The run's logical date (a manual run without one: its run_after), which decides who is due."""
    return context.get("logical_date") or context["dag_run"].run_after

"""The ping kind's tasks: one task that returns the section's message (an operators.graph.TaskGraph)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any


class PingGraph:
    def params(self, spec: Any) -> dict[str, Any]:
        return {}

    def dagrun_timeout(self, spec: Any) -> timedelta:
        return timedelta(minutes=spec.kind_settings().minutes)

    def build(self, spec: Any, skills_dir: Path | None) -> None:
        from airflow.sdk import task

        message = spec.kind_settings().message

        @task(task_id="ping")
        def ping() -> str:
            return message

        ping()


GRAPH = PingGraph()

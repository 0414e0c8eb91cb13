"""ping: a kind that is not a per-team fan-out, so it names its own task graph (ping_graph.py),
as the digest does. Its module imports no Airflow: only the graph's does, when a DAG is built."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class PingSettings(BaseModel):
    """The spec's `ping:` section."""

    model_config = ConfigDict(extra="forbid")
    message: str = "pong"
    minutes: int = Field(5, ge=1, le=60)  # the run's dagrun_timeout


class PingKind:
    name: ClassVar[str] = "ping"
    settings_model: ClassVar[type[BaseModel]] = PingSettings
    default_schedule: ClassVar[str] = "@daily"
    task_graph: ClassVar[str] = "agentjobs_tally.ping_graph:GRAPH"

    def check_spec(self, spec: Any) -> None:
        if spec.channels:
            raise ValueError("a ping delivers nothing; remove channels")


KIND = PingKind()

"""What a task instance has spent across its tries, and the model answers it paid for,
kept in Airflow's task state store.

The budget bounds the whole task instance: a retry starts from what the failed tries
spent. A clear from the UI starts a fresh budget: Airflow sets `max_tries` to
`try_number + retries` on a clear, so `max_tries - retries + 1` (the first try of the
current clear, the same sum Airflow uses for reschedules) names a "budget epoch", and
spend saved under another epoch is ignored.

Spend and answers are saved under one key, in one write, after every model call: a worker
killed between two writes could otherwise leave an answer replayed without its cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from agentjobs.agent.budget import Usage

SPEND_KEY = "agentjobs_spend"


class StateStore(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def set(self, key: str, value: Any) -> None: ...


class _MemoryStore:
    """Used when the task state store is not available (e.g. an older Airflow)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value


@dataclass
class SpendStore:
    store: StateStore
    epoch: int

    @classmethod
    def from_context(cls, context: Any) -> SpendStore:
        ti = context["ti"]
        retries = ti.task.retries or 0
        epoch = int(getattr(ti, "max_tries", 0) or 0) - retries + 1
        store = context.get("task_state_store")
        if store is None:
            store = _MemoryStore()
        return cls(store=store, epoch=epoch)

    def load(self) -> tuple[Usage, float, dict[str, Any]]:
        """Spend, wall time and model answers of earlier tries in this epoch (none after a clear)."""
        saved = self.store.get(SPEND_KEY)
        if not isinstance(saved, dict) or saved.get("epoch") != self.epoch:
            return Usage(), 0.0, {}
        calls = saved.get("calls")
        return (
            Usage.from_dict(saved.get("usage")),
            float(saved.get("elapsed_s", 0.0)),
            dict(calls) if isinstance(calls, dict) else {},
        )

    def save(self, usage: Usage, elapsed_s: float, calls: dict[str, Any] | None = None) -> None:
        value = {"epoch": self.epoch, "usage": usage.as_dict(), "elapsed_s": elapsed_s, "calls": calls or {}}
        self.store.set(SPEND_KEY, value)

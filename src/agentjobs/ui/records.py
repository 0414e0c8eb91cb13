"""What the UI shows, as plain data: one agent run, its deliveries, and the daily totals.

No Airflow here: `queries` fills these from the metadata DB and the ledgers, `render` and the
JSON API read them, and the tests build them directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

# What the validate task's state says about the artifact's contract.
CONTRACT_OF_STATE = {
    "success": "passed",
    "failed": "failed",
    "upstream_failed": "not checked",
    "skipped": "not checked",
    "removed": "not checked",
}


@dataclass(frozen=True)
class Delivery:
    """The newest ledger attempt of one (channel, target) of a run's day."""

    channel: str
    target: str
    status: str  # sent | failed | sending
    attempts: int
    at: datetime


@dataclass
class AgentRun:
    """One agent task instance (a digest's summarize, or one team's of a fan-out job)."""

    job: str
    run_id: str
    task_id: str
    map_index: int
    logical_date: datetime | None
    run_after: datetime
    state: str | None
    try_number: int
    team: str | None = None
    period: str | None = None  # the day its files and deliveries are keyed by
    iterations: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    model: str | None = None
    # With fallback connections: the one that answered last, and this try's moves away from one.
    answered_by: str | None = None
    failovers: list[dict[str, Any]] = field(default_factory=list)
    contract: str = "pending"
    items: int | None = None
    result: dict[str, Any] | None = None
    artifact_dir: str | None = None
    error: str | None = None
    # A fan-out team's step after summarize that failed (validate, apply, publish, deliver); `error`
    # says why.
    failed_step: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def day(self) -> date:
        """The day the run belongs to in the per-day chart: its logical date, else when it ran."""
        return (self.logical_date or self.run_after).date()

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        for key in ("logical_date", "run_after"):
            data[key] = data[key].isoformat() if data[key] else None
        for delivery in data["deliveries"]:
            delivery["at"] = delivery["at"].isoformat()
        return data


def contract_status(validate_state: str | None, agent_state: str | None) -> str:
    """passed / failed / not checked / pending, from the validate task's state."""
    if validate_state in CONTRACT_OF_STATE:
        return CONTRACT_OF_STATE[validate_state]
    if agent_state in ("failed", "upstream_failed"):
        return "not checked"
    return "pending"


def usage_fields(value: Any) -> dict[str, Any]:
    """Iterations, tokens and cost from an agent task's `usage` XCom.

    A successful try pushes the usage dict itself; a failed one the whole payload, with the
    usage inside it (and the scrubbed error): both are read.
    """
    if not isinstance(value, dict):
        return {}
    usage = value["usage"] if isinstance(value.get("usage"), dict) else value
    fields = {
        "iterations": int(usage.get("iterations") or 0),
        "prompt_tokens": int(usage.get("prompt_tokens") or 0),
        "completion_tokens": int(usage.get("completion_tokens") or 0),
        "cost_usd": float(usage.get("cost_usd") or 0.0),
    }
    if isinstance(usage.get("answered_by"), str):
        fields["answered_by"] = usage["answered_by"]
    moves = usage.get("failovers")
    if isinstance(moves, list):
        fields["failovers"] = [m for m in moves if isinstance(m, dict)]
    if isinstance(value.get("usage"), dict):
        fields["model"] = value.get("model")
        fields["error"] = value.get("error")
    return fields


@dataclass(frozen=True)
class DailyUsage:
    day: date
    job: str
    tokens: int
    cost_usd: float
    runs: int


def daily_usage(runs: list[AgentRun]) -> list[DailyUsage]:
    """Tokens (in + out) and cost per job per day, newest day first, jobs by name."""
    totals: dict[tuple[date, str], list[float]] = {}
    for run in runs:
        entry = totals.setdefault((run.day, run.job), [0, 0.0, 0])
        entry[0] += run.prompt_tokens + run.completion_tokens
        entry[1] += run.cost_usd
        entry[2] += 1
    rows = [
        DailyUsage(day, job, int(tokens), round(cost, 6), int(count))
        for (day, job), (tokens, cost, count) in totals.items()
    ]
    return sorted(rows, key=lambda row: (-row.day.toordinal(), row.job))

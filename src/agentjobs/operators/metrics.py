"""What the agent jobs did, as metrics through Airflow's own backend (StatsD, Datadog or
OpenTelemetry, whichever `[metrics]` turns on; none: nothing is sent).

Every metric is a counter tagged with the job (its dag_id), so a dashboard sums tokens, cost,
contract failures, deliveries and budget stops per job per day without reading any log. Cost is
counted in micro-dollars: StatsD counters are integers. Tags reach StatsD only with
`statsd_influxdb_enabled` (or Datadog/OTel); plain StatsD gets the bare names.

Metrics never fail a task: a backend that cannot send is logged and ignored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk.observability import stats as _stats_module

# Airflow 3.3 sends through the module's own functions; 3.2 only has them on its `Stats` class
# (the same backend either way): without this, every metric of a 3.2 run was a logged warning.
stats: Any = _stats_module if hasattr(_stats_module, "incr") else _stats_module.Stats

if TYPE_CHECKING:
    from agentjobs.agent.budget import Usage


log = logging.getLogger(__name__)

PREFIX = "agentjobs"
# The outcomes of one try of an agent task (the `outcome` tag of agentjobs.agent_runs).
SUCCESS, BUDGET_STOP, CONTRACT_FAILURE, ERROR = "success", "budget_stop", "contract_failure", "error"
DEFERRED = "deferred"  # a part of a try that ended waiting for the rate limiter in the triggerer


def _incr(name: str, count: int, tags: dict[str, Any]) -> None:
    if count <= 0:
        return
    try:
        stats.incr(f"{PREFIX}.{name}", count=count, tags=tags)
    except Exception as exc:  # a metrics backend must never fail a job
        log.warning("could not emit metric %s.%s: %s: %s", PREFIX, name, type(exc).__name__, exc)


def this_try(total: Usage, before: Usage) -> Usage:
    """The spend of this try alone: a retry resumes the budget of earlier tries, already counted."""
    from agentjobs.agent.budget import Usage  # a DAG parse imports this module, never counts a try

    return Usage(
        iterations=total.iterations - before.iterations,
        prompt_tokens=total.prompt_tokens - before.prompt_tokens,
        completion_tokens=total.completion_tokens - before.completion_tokens,
        cost_usd=max(total.cost_usd - before.cost_usd, 0.0),
    )


def outcome_of(exc: BaseException) -> tuple[str, str | None]:
    """The outcome of a try that `exc` ended, and the cap that stopped it (a budget stop only)."""
    from agentjobs.agent.errors import BudgetExceeded, ContractViolation, WaitRequested

    if isinstance(exc, BudgetExceeded):
        return BUDGET_STOP, exc.cap
    if isinstance(exc, ContractViolation):
        return CONTRACT_FAILURE, None
    if isinstance(exc, WaitRequested):
        return DEFERRED, None
    return ERROR, None


def agent_try(job: str, task_id: str, used: Usage, outcome: str, *, cap: str | None = None) -> None:
    """One try of an agent task: its outcome, iterations, tokens in and out, and cost."""
    tags = {"job": job, "task": task_id}
    _incr("agent_runs", 1, {**tags, "outcome": outcome})
    _incr("iterations", used.iterations, tags)
    _incr("tokens", used.prompt_tokens, {**tags, "direction": "in"})
    _incr("tokens", used.completion_tokens, {**tags, "direction": "out"})
    _incr("cost_microusd", round(used.cost_usd * 1_000_000), tags)
    if outcome == BUDGET_STOP:
        _incr("budget_stops", 1, {**tags, "cap": cap or "unknown"})
    if outcome == CONTRACT_FAILURE:
        contract_failure(job, task_id)


def failover(job: str, task_id: str, move: dict[str, Any]) -> None:
    """One move of an agent call from a failing endpoint to the next (agent/failover.py)."""
    kind = str(move.get("reason", "")).split(":", 1)[0]
    _incr(
        "failovers", 1, {"job": job, "task": task_id, "from": move["from"], "to": move["to"], "reason": kind}
    )


def contract_failure(job: str, task_id: str) -> None:
    """A RESULT or artifact that broke its contract (at summarize or at validate)."""
    _incr("contract_failures", 1, {"job": job, "task": task_id})


def delivery(job: str, channel: str, delivered: bool) -> None:
    """A delivery: sent now, or skipped because the ledger holds it as sent already."""
    _incr("deliveries", 1, {"job": job, "channel": channel, "outcome": "sent" if delivered else "skipped"})

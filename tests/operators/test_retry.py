"""The retry policy of a job's tasks: what fails at once, what retries after a pause, and what
keeps the task's own retries (the decision Airflow's task runner takes from the policy)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import RetryAction

from agentjobs.agent.errors import BudgetExceeded, ContractViolation, ModelRequestError, RateLimited
from agentjobs.hooks.ledger_hosts import SplitLedgerError
from agentjobs.operators.errors import ArtifactChanged, PermanentTaskError
from agentjobs.operators.retry import AGENT_RETRY_POLICY, agent_retry_policy
from agentjobs.sources.errors import (
    BusinessDbRefused,
    BusinessDbUnreachable,
    FeedError,
    GitHubAccessDenied,
    GitHubRateLimited,
    GitHubUnavailable,
)


def decide(exc: BaseException, policy=AGENT_RETRY_POLICY):
    return policy.evaluate(exc, try_number=1, max_tries=2)


@pytest.mark.parametrize(
    "exc",
    [
        BudgetExceeded("max_cost_usd", 0.5, 0.51),
        ContractViolation("the answer misses 'highlights'"),
        ModelRequestError("HTTP 401 from the model endpoint"),
        ArtifactChanged("digest.md changed after validation"),
        PermanentTaskError("no snapshot"),
        GitHubAccessDenied("401 Bad credentials"),
        SplitLedgerError("job 'x' keeps its delivery ledger in the SQLite file ..."),
        BusinessDbRefused("business database connection 'shop' refused the connection (password ...)"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_failure_a_retry_would_repeat_fails_the_task_at_once_saying_why(exc):
    decision = decide(exc)
    assert decision.action == RetryAction.FAIL
    assert "a retry would fail again" in decision.reason


@pytest.mark.parametrize(
    "exc",
    [
        RateLimited("429"),
        TimeoutError("read timed out"),
        ConnectionResetError("reset by peer"),
        BusinessDbUnreachable("business database connection 'shop' could not be reached (refused)"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_transient_endpoint_failure_retries_with_the_tasks_own_delay_unless_told_another(exc):
    decision = decide(exc)
    assert decision.action == RetryAction.RETRY
    assert decision.retry_delay is None  # the task's retry_delay (and its backoff) applies
    assert "transient" in decision.reason
    paused = decide(exc, agent_retry_policy(transient_delay=timedelta(seconds=30)))
    assert paused.action == RetryAction.RETRY
    assert paused.retry_delay == timedelta(seconds=30)


@pytest.mark.parametrize(
    "exc",
    [
        GitHubRateLimited("rate limit resets at 04:00"),
        GitHubUnavailable("502"),
        FeedError("too large"),
        KeyError("x"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_any_other_failure_keeps_the_tasks_retries(exc):
    assert decide(exc).action == RetryAction.DEFAULT


def test_a_team_whose_currency_iso_4217_does_not_list_fails_at_once_without_retries():
    from agentjobs.jobs.kinds.base import PeriodRef, TeamSnapshot
    from agentjobs.jobs.kinds.weekly_insights import Settings, weekly_insights
    from agentjobs.sources.teams import Team

    # "ABC" passes the contract's three capital letters; only the renderer finds it unlisted.
    team = Team(id="t1", name="Berlin", timezone="Europe/Berlin", currency="ABC")
    start, end = datetime(2026, 11, 22, 23, tzinfo=UTC), datetime(2026, 11, 29, 23, tzinfo=UTC)
    snapshot = TeamSnapshot(
        kind="weekly_insights", team=team, period=PeriodRef(key="2026-11-29", start=start, end=end), tables={}
    )
    with pytest.raises(ValueError, match="currency 'ABC' is not an ISO 4217 code") as raised:
        weekly_insights.plan(snapshot, Settings(), "structured")  # what the summarize task calls
    decision = decide(raised.value)
    assert decision.action == RetryAction.FAIL
    assert "a retry would fail again" in decision.reason


def test_on_airflow_3_3_a_permanent_error_leaves_the_task_as_itself_for_the_policy_to_decide():
    from agentjobs.operators.retry import HAS_RETRY_POLICIES, permanent_failures_end_the_task

    assert HAS_RETRY_POLICIES  # the dev install is 3.3
    with pytest.raises(BudgetExceeded), permanent_failures_end_the_task():
        raise BudgetExceeded("max_cost_usd", 0.5, 0.51)


def test_without_retry_policies_a_permanent_error_ends_the_task_and_a_transient_one_retries(monkeypatch):
    """Airflow 3.2 (the floor) has no retry policies: the tasks raise a permanent error again as
    AirflowFailException, which ends a task without a retry on every Airflow 3."""
    from airflow.sdk.exceptions import AirflowFailException

    from agentjobs.operators import retry

    monkeypatch.setattr(retry, "HAS_RETRY_POLICIES", False)
    with pytest.raises(AirflowFailException) as ended, retry.permanent_failures_end_the_task():
        raise GitHubAccessDenied("401 Bad credentials")
    assert str(ended.value).startswith("GitHubAccessDenied: 401 Bad credentials (not retried")
    assert "Airflow < 3.3 has no retry policies" in str(ended.value)
    assert isinstance(ended.value.__cause__, GitHubAccessDenied)
    with pytest.raises(RateLimited), retry.permanent_failures_end_the_task():
        raise RateLimited("HTTP 429")  # left to the task's own retries
    kwargs = {"retries": 2}
    monkeypatch.setattr(retry, "AGENT_RETRY_POLICY", None)
    assert retry.with_retry_policy(kwargs) == {
        "retries": 2
    }  # no retry_policy= for an Airflow that refuses it

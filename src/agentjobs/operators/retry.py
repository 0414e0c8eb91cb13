"""The retry policy of agent tasks: permanent failures end the task, transient ones retry.

Budget, contract, skill and 400/401/403 errors, an artifact changed after validation, a
source that refuses the credentials (GitHub's 401, or a 403 that is not a rate limit), and a
SQLite ledger under an executor that spreads tasks over hosts (hooks/ledger_hosts.py) fail at
once without using up retries: the same input would fail the same way and spend again.
429, 5xx, timeouts, connection resets and a business database that cannot be reached
(sources/sql_connect.py) retry after a pause (the task's
`retry_exponential_backoff` still applies to the task's own retry_delay when no rule sets one).

Retry policies are Airflow 3.3's. On an older Airflow (the provider runs from 3.2,
docs/airflow-versions.md) `AGENT_RETRY_POLICY` is None and the tasks' `permanent_failures_end_the_task`
raises a permanent error again as AirflowFailException, which every Airflow 3 ends the task on
without a retry; what is lost there is the shorter pause of a transient error's rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from agentjobs.agent.errors import PermanentAgentError, TransientAgentError
from agentjobs.hooks.ledger_hosts import SplitLedgerError
from agentjobs.operators.errors import PermanentTaskError
from agentjobs.sources.errors import PermanentSourceError

try:
    from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule
except ImportError:  # Airflow < 3.3: no retry policies (permanent_failures_end_the_task stands in)
    ExceptionRetryPolicy = RetryAction = RetryRule = None

RETRY_POLICIES_NEED = "3.3"
HAS_RETRY_POLICIES = ExceptionRetryPolicy is not None
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    PermanentAgentError,
    PermanentTaskError,
    PermanentSourceError,
    SplitLedgerError,
)


class PermanentFailure(AirflowFailException):
    """A permanent error ended the task on an Airflow without retry policies (before 3.3)."""


def agent_retry_policy(transient_delay: timedelta | None = None) -> Any:
    """`transient_delay` overrides the task's retry_delay for transient errors (None: keep it).
    None on Airflow < 3.3, which has no retry policies."""
    if not HAS_RETRY_POLICIES:
        return None
    return ExceptionRetryPolicy(
        rules=[
            RetryRule(
                exception=list(PERMANENT_ERRORS),
                action=RetryAction.FAIL,
                reason="permanent failure (budget, contract, skill, 4xx, artifact changed, source "
                "credentials refused, a ledger on one host): a retry would fail again",
            ),
            RetryRule(
                exception=[TransientAgentError, TimeoutError, ConnectionError],
                action=RetryAction.RETRY,
                retry_delay=transient_delay,
                reason="transient failure (429, 5xx, timeout, connection refused or reset)",
            ),
        ],
        default=RetryAction.DEFAULT,
    )


AGENT_RETRY_POLICY = agent_retry_policy()


def with_retry_policy(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Operator or default_args `kwargs` with the agent retry policy set, where Airflow has one."""
    if AGENT_RETRY_POLICY is not None:
        kwargs.setdefault("retry_policy", AGENT_RETRY_POLICY)
    return kwargs


@contextmanager
def permanent_failures_end_the_task() -> Iterator[None]:
    """On Airflow < 3.3, a permanent error leaves as AirflowFailException (no retry), its type and
    message kept in the text; on 3.3 and later the retry policy decides and nothing changes."""
    try:
        yield
    except PERMANENT_ERRORS as exc:
        if HAS_RETRY_POLICIES:
            raise
        raise PermanentFailure(
            f"{type(exc).__name__}: {exc} (not retried: a retry would fail again; Airflow "
            f"< {RETRY_POLICIES_NEED} has no retry policies, so it ends the task this way)"
        ) from exc

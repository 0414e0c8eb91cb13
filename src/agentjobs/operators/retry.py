"""The retry policy of agent tasks: permanent failures end the task, transient ones retry.

Budget, contract, skill and 400/401/403 errors, an artifact changed after validation, a
source that refuses the credentials (GitHub's 401, or a 403 that is not a rate limit), and a
SQLite ledger under an executor that spreads tasks over hosts (hooks/ledger_hosts.py) fail at
once without using up retries: the same input would fail the same way and spend again.
429, 5xx, timeouts and connection resets retry after a pause (the task's
`retry_exponential_backoff` still applies to the task's own retry_delay when no rule sets one).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

from agentjobs.agent.errors import PermanentAgentError, TransientAgentError
from agentjobs.hooks.ledger_hosts import SplitLedgerError
from agentjobs.operators.errors import PermanentTaskError
from agentjobs.sources.errors import PermanentSourceError


def agent_retry_policy(transient_delay: timedelta | None = None) -> ExceptionRetryPolicy:
    """`transient_delay` overrides the task's retry_delay for transient errors (None: keep it)."""
    return ExceptionRetryPolicy(
        rules=[
            RetryRule(
                exception=[PermanentAgentError, PermanentTaskError, PermanentSourceError, SplitLedgerError],
                action=RetryAction.FAIL,
                reason="permanent failure (budget, contract, skill, 4xx, artifact changed, source "
                "credentials refused, a ledger on one host): a retry would fail again",
            ),
            RetryRule(
                exception=[TransientAgentError, TimeoutError, ConnectionError],
                action=RetryAction.RETRY,
                retry_delay=transient_delay,
                reason="transient model endpoint failure (429, 5xx, timeout, connection reset)",
            ),
        ],
        default=RetryAction.DEFAULT,
    )


AGENT_RETRY_POLICY = agent_retry_policy()

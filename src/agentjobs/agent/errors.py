"""Exceptions of the agent runtime.

Each class says how a scheduler should treat it: the `Permanent` ones end a task
without using its retries, the `Transient` ones are worth another try after a pause.
The Airflow side maps these classes onto a retry policy (agentjobs.operators.retry).
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class of every error the agent runtime raises on purpose."""


class PermanentAgentError(AgentError):
    """Retrying cannot help: the same input fails the same way."""


class TransientAgentError(AgentError):
    """The model endpoint may answer next time (429, 5xx, timeout, reset connection)."""

    # What went wrong, in a word a metric can carry: timeout, connection, server_error,
    # rate_limited, malformed (what a failover record names as its reason).
    kind = "transient"

    def __init__(self, message: str, retry_after_s: float | None = None, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        if kind is not None:
            self.kind = kind


class RateLimited(TransientAgentError):
    """HTTP 429: the endpoint refused the call before doing it, so no token was spent. With a
    Retry-After the endpoint said when to come back, and the loop waits that long in the task
    (agentjobs.agent.rate_limit) rather than failing the try."""

    kind = "rate_limited"


class WaitRequested(AgentError):
    """The connection's rate limiter (or a 429 while it is set) asks for a wait of `wait_s`
    seconds, at least what the runner chose to sleep in place (Agent.defer_waits_from_s). Nothing
    was sent and nothing taken from the limiter. A runner that can park the run (Airflow: defer to
    the triggerer) does so and then runs the agent again, which replays the calls already paid
    for; neither a failure nor a retry."""

    def __init__(self, wait_s: float, what: str) -> None:
        super().__init__(f"{what} is {wait_s:.1f} s away")
        self.wait_s = wait_s
        self.what = what


class BudgetExceeded(PermanentAgentError):
    """A hard cap was reached; names the cap, its limit and what was used."""

    def __init__(self, cap: str, limit: float, used: float, detail: str = "") -> None:
        self.cap = cap
        self.limit = limit
        self.used = used
        message = f"budget exceeded: {cap} limit {limit:g}, used {used:g}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)


class ContractViolation(PermanentAgentError):
    """The model's final answer does not satisfy the skill's output contract."""


class EmptyResult(PermanentAgentError):
    """The skill's item count is 0 and the job does not allow empty results."""


class SkillError(PermanentAgentError):
    """A skill file is missing or malformed."""


class PermissionDenied(AgentError):
    """A tool call tried to reach outside what the run is allowed to touch."""


class ToolRegistrationError(PermanentAgentError):
    """A tool cannot be registered (duplicate name, needs confirmation in unattended mode...)."""


class ModelRequestError(PermanentAgentError):
    """The endpoint refused the request for good (400, 401, 403, 404, missing usage...)."""

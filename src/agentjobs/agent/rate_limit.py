"""How long to wait out a 429 inside the task instead of failing the try.

A 429 is the one endpoint error that is safe to repeat at once: the endpoint refused the call
before doing it, so nothing was spent and nothing is asked twice. Failing the try instead
costs the task's retry delay (minutes) and, at the second 429, the run; a pool sized above
what the endpoint admits at once then loses teams (bench/fanout_throughput.py measured it).
Only a Retry-After the endpoint sent is waited for: without one, nobody knows when it will
answer, and the task's own retry with its exponential backoff is the better guess.
"""

from __future__ import annotations

from agentjobs.agent.errors import RateLimited

# One wait longer than this is no rate limit but an outage: fail the try, retry later.
MAX_RATE_LIMIT_WAIT_S = 60.0


def rate_limit_wait(
    error: RateLimited, waits_so_far: int, max_waits: int, remaining_s: float | None
) -> float | None:
    """Seconds to sleep before asking again, or None to fail the try with `error`.

    None when the endpoint named no time, the call's waits are used up, the wait is longer than
    MAX_RATE_LIMIT_WAIT_S, or it would end past the run's time cap (`remaining_s`).
    """
    wait_s = error.retry_after_s
    if wait_s is None or waits_so_far >= max_waits or wait_s > MAX_RATE_LIMIT_WAIT_S:
        return None
    wait_s = max(wait_s, 0.0)
    if remaining_s is not None and wait_s >= remaining_s:
        return None
    return wait_s

"""One rate limiter per model connection, shared by every process that calls it.

A token bucket of requests and one of tokens, kept in a store every worker reaches (Redis or
the ledger database: agent/rate_limit_redis.py, agent/rate_limit_sql.py), is consulted before
each model call. `acquire` never sleeps: it takes what the call needs and answers 0, or takes
nothing and answers how long to wait. The caller sleeps (or, later, defers to the triggerer),
so a wait is a value the caller can check against the run's time cap first.

The requests bucket holds one request (an endpoint that enforces its limit per second refuses a
burst of a minute's worth) and refills at requests_per_minute / 60 a second; the tokens bucket
holds a minute's worth, as a call may need thousands at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

REQUEST_BURST = 1.0  # requests the bucket holds: calls are spaced 60 / requests_per_minute apart
# Waits are stretched by up to this fraction (plus JITTER_MIN_S) so workers that were refused
# together do not all ask again at the same instant. Kept small: the bucket holds one request,
# so a slot its waiter comes late for is lost, and a lone waiter pays the whole stretch on every
# call (a 10% + 50 ms stretch cost a one-slot chunk ~8% of the limit, bench/fanout_throughput.py);
# waiters that do collide lose nothing but a re-ask, as one of them takes the slot.
JITTER_FRACTION = 0.02
JITTER_MIN_S = 0.01


@dataclass(frozen=True)
class Limits:
    """What one model connection allows; None is no limit on that dimension."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    @property
    def request_rate(self) -> float:
        """Requests a second (0: unlimited)."""
        return (self.requests_per_minute or 0.0) / 60.0

    @property
    def token_rate(self) -> float:
        return (self.tokens_per_minute or 0.0) / 60.0

    @property
    def token_capacity(self) -> float:
        return float(self.tokens_per_minute or 0.0)


@dataclass(frozen=True)
class Bucket:
    """A bucket's level at `updated` (seconds since the epoch)."""

    requests: float
    tokens: float
    updated: float


def full_bucket(limits: Limits, now: float) -> Bucket:
    return Bucket(REQUEST_BURST, limits.token_capacity, now)


def refill(bucket: Bucket, limits: Limits, now: float) -> Bucket:
    # A clock a little behind the one that wrote the row must not drain the bucket.
    elapsed = max(0.0, now - bucket.updated)
    requests = min(REQUEST_BURST, bucket.requests + elapsed * limits.request_rate)
    tokens = min(limits.token_capacity, bucket.tokens + elapsed * limits.token_rate)
    return Bucket(requests, tokens, max(now, bucket.updated))


def take(bucket: Bucket, limits: Limits, now: float, tokens: float) -> tuple[Bucket, float]:
    """Refill, then take one request and `tokens` if both are there: (new bucket, 0.0); else
    (the refilled bucket, seconds until both are there). A call estimated above a minute's
    tokens takes a whole minute's worth, or it could never go."""
    bucket = refill(bucket, limits, now)
    wait = 0.0
    if limits.request_rate > 0 and bucket.requests < 1.0:
        wait = (1.0 - bucket.requests) / limits.request_rate
    want = min(float(tokens), limits.token_capacity)
    if limits.token_rate > 0 and bucket.tokens < want:
        wait = max(wait, (want - bucket.tokens) / limits.token_rate)
    if wait > 0:
        return bucket, wait
    requests = bucket.requests - 1.0 if limits.request_rate > 0 else bucket.requests
    left = bucket.tokens - want if limits.token_rate > 0 else bucket.tokens
    return Bucket(requests, left, bucket.updated), 0.0


def adjust(bucket: Bucket, limits: Limits, now: float, tokens: float) -> Bucket:
    """Give back (positive) or charge (negative) tokens once a call's real usage is known. A
    charge may leave the bucket below zero: the next calls wait until the debt is refilled."""
    bucket = refill(bucket, limits, now)
    level = min(limits.token_capacity, bucket.tokens + tokens) if limits.token_rate > 0 else bucket.tokens
    return Bucket(bucket.requests, level, bucket.updated)


class BucketStore(Protocol):
    """Where the bucket of one connection lives; each method is one atomic step."""

    def take(self, limits: Limits, tokens: float) -> float:
        """Take one request and `tokens`: 0.0, or take nothing and return seconds to wait."""
        ...

    def adjust(self, limits: Limits, tokens: float) -> None:
        """Add `tokens` (negative: remove) to the bucket."""
        ...


class RateLimiter:
    """The limiter of one connection: its limits, its shared store, and the jitter."""

    def __init__(
        self,
        limits: Limits,
        store: BucketStore,
        jitter: Callable[[float], float] | None = None,
    ) -> None:
        self.limits = limits
        self.store = store
        self._jitter = jitter or _jitter

    @property
    def counts_tokens(self) -> bool:
        """Whether calls must estimate their tokens (a tokens_per_minute is set)."""
        return self.limits.tokens_per_minute is not None

    def acquire(self, tokens: int = 0) -> float:
        """0.0 when the call may go now (its request and `tokens` are taken), else seconds to
        wait before asking again (nothing taken)."""
        wait = self.store.take(self.limits, float(tokens) if self.counts_tokens else 0.0)
        return self._jitter(wait) if wait > 0 else 0.0

    def settle(self, estimated: int, actual: int | None) -> None:
        """Correct the tokens taken for a call by its real usage (None: the endpoint said nothing)."""
        if not self.counts_tokens or actual is None or actual == estimated:
            return
        try:
            self.store.adjust(self.limits, float(estimated - actual))
        except Exception as exc:
            # The call is made and paid for; a bucket left a little off must not fail the run.
            log.warning("could not settle the rate limiter's tokens: %s", exc)

    def retry_after_429(self, retry_after_s: float | None) -> float:
        """How long to wait after a 429 despite the limiter: the endpoint's Retry-After, else one
        request's spacing (else a second), jittered."""
        if retry_after_s is not None and retry_after_s > 0:
            return self._jitter(retry_after_s)
        rate = self.limits.request_rate
        return self._jitter(1.0 / rate if rate > 0 else 1.0)


def _jitter(wait: float) -> float:
    return wait * (1.0 + random.uniform(0.0, JITTER_FRACTION)) + random.uniform(0.0, JITTER_MIN_S)

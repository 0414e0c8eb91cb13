"""The rate-limit extras of an LLM connection: `requests_per_minute`, `tokens_per_minute` and
`rate_limit_store`.

No limit set: no limiter, calls go as they come (a 429 with Retry-After is waited out a few
times, agent/rate_limit.py). A limit set: one limiter per connection, its bucket in the store
every worker shares: `ledger` (the default: the ledger database, which a multi-host deployment
shares already) or a `redis://` / `rediss://` URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agentjobs.agent.rate_limiter import Limits

RATE_LIMIT_FIELDS = {"requests_per_minute", "tokens_per_minute", "rate_limit_store"}
LEDGER_STORE = "ledger"


class RateLimitSettingsError(ValueError):
    """A rate-limit extra is malformed; the message names the key and the fix."""


@dataclass(frozen=True)
class RateLimitSettings:
    limits: Limits
    store: str = field(repr=False)  # "ledger" or a Redis URL, which may hold a password

    @property
    def redis_password(self) -> str | None:
        return None if self.store == LEDGER_STORE else urlsplit(self.store).password


def _per_minute(conn_id: str, extra: dict[str, Any], key: str) -> float | None:
    raw = extra.get(key)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(raw, bool) or not value > 0 or value == float("inf"):
        raise RateLimitSettingsError(
            f"connection {conn_id!r}: extra {key!r} must be a number above 0 (what the endpoint "
            f"allows a minute), got {raw!r}; leave it out for no limit"
        )
    return value


def rate_limit_from_extra(conn_id: str, extra: dict[str, Any]) -> RateLimitSettings | None:
    """The connection's rate limit, or None when it sets no limit."""
    limits = Limits(
        requests_per_minute=_per_minute(conn_id, extra, "requests_per_minute"),
        tokens_per_minute=_per_minute(conn_id, extra, "tokens_per_minute"),
    )
    store = extra.get("rate_limit_store")
    store = LEDGER_STORE if store in (None, "") else store
    if not _valid_store(store):
        # The value itself is not shown: a mistyped Redis URL may hold its password.
        shown = f"scheme {urlsplit(store).scheme!r}" if isinstance(store, str) else type(store).__name__
        raise RateLimitSettingsError(
            f"connection {conn_id!r}: extra 'rate_limit_store' must be 'ledger' (the ledger database) "
            f"or a Redis URL such as redis://redis:6379/0, got a value of {shown}"
        )
    if limits.requests_per_minute is None and limits.tokens_per_minute is None:
        if "rate_limit_store" in extra and extra["rate_limit_store"] not in (None, ""):
            raise RateLimitSettingsError(
                f"connection {conn_id!r}: extra 'rate_limit_store' is set but no limit is: add "
                "requests_per_minute and/or tokens_per_minute, or remove rate_limit_store"
            )
        return None
    return RateLimitSettings(limits=limits, store=store)


def _valid_store(store: Any) -> bool:
    if not isinstance(store, str):
        return False
    if store == LEDGER_STORE:
        return True
    parts = urlsplit(store)
    return parts.scheme in ("redis", "rediss") and bool(parts.hostname)

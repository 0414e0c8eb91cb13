"""Turn the fields of an LLM connection into the agent runtime's settings.

Kept apart from the hook so it can be read and tested without an Airflow metadata DB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agentjobs.agent.budget import Prices
from agentjobs.agent.model_client import EndpointOptions
from agentjobs.hooks.rate_limit_settings import (
    RATE_LIMIT_FIELDS,
    RateLimitSettings,
    RateLimitSettingsError,
    rate_limit_from_extra,
)

EXTRA_FIELDS = RATE_LIMIT_FIELDS | {
    "model",
    "rate_limit_waits",
    "timeout",
    "prices",
    "structured_dialect",
    "max_tokens_param",
    "reports_usage",
    "max_tokens_per_call",
    "batch_poll_s",
}

NO_KEY = "not-needed"  # local servers (llama.cpp, vLLM, Ollama) take any key; the SDK refuses an empty one


class LLMConnectionError(ValueError):
    """The LLM connection is incomplete or malformed; the message names the field and the fix."""


@dataclass(frozen=True)
class LLMSettings:
    base_url: str
    api_key: str = field(repr=False)
    model: str | None
    options: EndpointOptions
    prices: dict[str, Prices]
    rate_limit: RateLimitSettings | None = None  # None: the connection sets no limit

    @property
    def secrets(self) -> list[str]:
        """What must be scrubbed from everything a run writes: the API key, when there is one,
        and the password of the rate limiter's Redis URL."""
        found = [self.api_key] if self.api_key != NO_KEY else []
        if self.rate_limit is not None and self.rate_limit.redis_password:
            found.append(self.rate_limit.redis_password)
        return found

    def prices_for(self, model: str) -> Prices | None:
        """Prices of `model`, else the `*` row, else None (unknown)."""
        return self.prices.get(model) or self.prices.get("*")


def _parse_prices(raw: Any, conn_id: str) -> dict[str, Prices]:
    if raw in (None, "", {}):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LLMConnectionError(
                f"connection {conn_id!r}: extra 'prices' is not valid JSON: {exc}"
            ) from exc
    if not isinstance(raw, dict):
        raise LLMConnectionError(
            f"connection {conn_id!r}: extra 'prices' must map a model name (or '*') to "
            '{"input": USD per 1M tokens, "output": USD per 1M tokens}'
        )
    table: dict[str, Prices] = {}
    for model, row in raw.items():
        if not isinstance(row, dict) or not {"input", "output"} <= row.keys():
            raise LLMConnectionError(
                f"connection {conn_id!r}: prices[{model!r}] must be "
                '{"input": USD per 1M input tokens, "output": USD per 1M output tokens}'
            )
        try:
            table[model] = Prices(float(row["input"]), float(row["output"]))
        except (TypeError, ValueError) as exc:
            raise LLMConnectionError(f"connection {conn_id!r}: prices[{model!r}] must hold numbers") from exc
    return table


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in {"false", "0", "no", "off"}
    return bool(value)


def settings_from_fields(
    conn_id: str, host: str | None, password: str | None, extra: dict[str, Any]
) -> LLMSettings:
    """Build settings from a connection's host (the base URL), password (API key) and extra."""
    unknown = set(extra) - EXTRA_FIELDS
    if unknown:
        raise LLMConnectionError(
            f"connection {conn_id!r}: unknown extra field(s) {sorted(unknown)}; "
            f"allowed: {sorted(EXTRA_FIELDS)}"
        )
    base_url = (host or "").strip()
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LLMConnectionError(
            f"connection {conn_id!r}: the Base URL (host field) must be a full http(s) URL such as "
            f"https://api.openai.com/v1 or http://127.0.0.1:8080/v1, got {base_url!r}"
        )
    if parts.username or parts.password:
        raise LLMConnectionError(
            f"connection {conn_id!r}: put the API key in the password field, not in the Base URL"
        )
    dialect = extra.get("structured_dialect", "json_schema")
    if dialect not in ("json_schema", "json_object_schema"):
        raise LLMConnectionError(
            f"connection {conn_id!r}: structured_dialect must be 'json_schema' (OpenAI, vLLM, llama-server) "
            f"or 'json_object_schema' (llama-cpp-python), got {dialect!r}"
        )
    max_tokens_param = extra.get("max_tokens_param", "max_tokens")
    if max_tokens_param not in ("max_tokens", "max_completion_tokens"):
        raise LLMConnectionError(
            f"connection {conn_id!r}: max_tokens_param must be 'max_tokens' or 'max_completion_tokens'"
        )
    try:
        raw_timeout = extra.get("timeout")
        timeout = float(raw_timeout) if raw_timeout not in (None, "") else 120.0
        per_call = extra.get("max_tokens_per_call")
        per_call_int = int(per_call) if per_call not in (None, "") else 4096
        waits = extra.get("rate_limit_waits")
        rate_limit_waits = int(waits) if waits not in (None, "") else 3
        raw_poll = extra.get("batch_poll_s")
        batch_poll_s = float(raw_poll) if raw_poll not in (None, "") else 60.0
    except (TypeError, ValueError) as exc:
        raise LLMConnectionError(
            f"connection {conn_id!r}: timeout, max_tokens_per_call, rate_limit_waits and batch_poll_s "
            "must be numbers"
        ) from exc
    if not batch_poll_s > 0:
        raise LLMConnectionError(
            f"connection {conn_id!r}: batch_poll_s must be more than 0 seconds (got {batch_poll_s:g}); "
            "leave it out for the default 60"
        )
    if rate_limit_waits < 0:
        raise LLMConnectionError(f"connection {conn_id!r}: rate_limit_waits must be 0 or more")
    # A 0 or negative value would otherwise pass silently: 0 used to read as "unset" (120 s), and a
    # call with no time or no tokens can never answer.
    if not timeout > 0:
        raise LLMConnectionError(
            f"connection {conn_id!r}: timeout must be more than 0 seconds (got {timeout:g})"
        )
    if per_call_int <= 0:
        raise LLMConnectionError(
            f"connection {conn_id!r}: max_tokens_per_call must be more than 0 (got {per_call_int}); "
            "leave it out for the default 4096"
        )
    options = EndpointOptions(
        structured_dialect=dialect,
        max_tokens_param=max_tokens_param,
        reports_usage=_as_bool(extra.get("reports_usage", True)),
        request_timeout_s=timeout,
        max_tokens_per_call=per_call_int,
        rate_limit_waits=rate_limit_waits,
        batch_poll_s=batch_poll_s,
    )
    try:
        rate_limit = rate_limit_from_extra(conn_id, extra)
    except RateLimitSettingsError as exc:
        raise LLMConnectionError(str(exc)) from None
    return LLMSettings(
        base_url=base_url.rstrip("/"),
        api_key=password or NO_KEY,
        model=(extra.get("model") or None),
        options=options,
        prices=_parse_prices(extra.get("prices"), conn_id),
        rate_limit=rate_limit,
    )

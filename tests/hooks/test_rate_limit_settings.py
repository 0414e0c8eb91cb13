"""The rate-limit extras of an LLM connection: no limit means no limiter; a bad value fails with
the key's name and the fix, and never echoes a Redis URL (it may hold a password)."""

from __future__ import annotations

import pytest

from agentjobs.agent.rate_limiter import Limits
from agentjobs.hooks.llm_settings import LLMConnectionError, settings_from_fields
from agentjobs.hooks.rate_limit_settings import RateLimitSettingsError, rate_limit_from_extra


def test_no_limit_is_no_limiter():
    assert rate_limit_from_extra("llm", {}) is None
    assert rate_limit_from_extra("llm", {"requests_per_minute": "", "tokens_per_minute": None}) is None


def test_limits_default_to_the_ledger_store():
    settings = rate_limit_from_extra("llm", {"requests_per_minute": "500", "tokens_per_minute": 200_000})
    assert settings is not None
    assert settings.limits == Limits(requests_per_minute=500, tokens_per_minute=200_000)
    assert settings.store == "ledger" and settings.redis_password is None


def test_a_redis_url_is_the_store_and_its_password_is_known():
    settings = rate_limit_from_extra(
        "llm", {"tokens_per_minute": 1000, "rate_limit_store": "rediss://:pw@cache:6380/2"}
    )
    assert settings is not None and settings.store == "rediss://:pw@cache:6380/2"
    assert settings.redis_password == "pw"
    assert "pw" not in repr(settings)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"requests_per_minute": 0}, "extra 'requests_per_minute' must be a number above 0"),
        ({"requests_per_minute": "fast"}, "extra 'requests_per_minute' must be a number above 0"),
        ({"tokens_per_minute": -5}, "extra 'tokens_per_minute' must be a number above 0"),
        ({"tokens_per_minute": True}, "extra 'tokens_per_minute' must be a number above 0"),
        ({"requests_per_minute": 60, "rate_limit_store": 6379}, "must be 'ledger'.*or a Redis URL"),
        ({"rate_limit_store": "ledger"}, "rate_limit_store' is set but no limit is"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(extra, message):
    with pytest.raises(RateLimitSettingsError, match=message):
        rate_limit_from_extra("llm", extra)


def test_a_mistyped_store_url_is_not_echoed():
    extra = {"requests_per_minute": 60, "rate_limit_store": "http://:s3cret@cache:6379"}
    with pytest.raises(RateLimitSettingsError) as err:
        rate_limit_from_extra("llm", extra)
    assert "s3cret" not in str(err.value) and "scheme 'http'" in str(err.value)


def test_the_connection_settings_carry_the_limit_and_its_errors():
    settings = settings_from_fields("llm", "http://127.0.0.1:8080/v1", None, {"requests_per_minute": 12})
    assert settings.rate_limit is not None and settings.rate_limit.limits.requests_per_minute == 12
    with pytest.raises(LLMConnectionError, match="connection 'llm': extra 'requests_per_minute'"):
        settings_from_fields("llm", "http://127.0.0.1:8080/v1", None, {"requests_per_minute": "x"})

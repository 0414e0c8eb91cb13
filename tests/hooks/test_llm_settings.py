"""The LLM connection's fields become the run's settings; bad fields are refused naming the fix."""

from __future__ import annotations

import pytest

from agentjobs.hooks.llm_settings import LLMConnectionError, settings_from_fields


def test_fields_become_settings():
    settings = settings_from_fields(
        "llm",
        "http://127.0.0.1:8080/v1/",
        "sk-abc",
        {
            "model": "gpt-4o-mini",
            "timeout": "30",
            "prices": {"gpt-4o-mini": {"input": 0.15, "output": 0.6}, "*": {"input": 1, "output": 2}},
            "structured_dialect": "json_object_schema",
            "max_tokens_param": "max_completion_tokens",
            "reports_usage": "false",
            "max_tokens_per_call": 1024,
            "rate_limit_waits": "5",
            "batch_poll_s": "15",
        },
    )
    assert settings.base_url == "http://127.0.0.1:8080/v1"
    assert settings.model == "gpt-4o-mini"
    assert settings.options.request_timeout_s == 30
    assert settings.options.structured_dialect == "json_object_schema"
    assert settings.options.max_tokens_param == "max_completion_tokens"
    assert settings.options.reports_usage is False
    assert settings.options.max_tokens_per_call == 1024
    assert settings.options.rate_limit_waits == 5
    assert settings.options.batch_poll_s == 15
    assert settings.prices_for("gpt-4o-mini").output_per_million == 0.6
    assert settings.prices_for("other").input_per_million == 1
    assert "sk-abc" not in repr(settings)


def test_prices_may_be_a_json_string_as_the_form_stores_it():
    settings = settings_from_fields(
        "llm", "https://x.example/v1", None, {"prices": '{"m": {"input": 1, "output": 2}}'}
    )
    assert settings.prices_for("m").output_per_million == 2
    assert settings.prices_for("other") is None
    assert settings.api_key == "not-needed"


@pytest.mark.parametrize(
    ("host", "extra", "message"),
    [
        ("api.openai.com/v1", {}, "full http(s) URL"),
        ("https://user:pw@api.example/v1", {}, "API key in the password field"),
        ("https://api.example/v1", {"modle": "x"}, "unknown extra field(s) ['modle']"),
        ("https://api.example/v1", {"structured_dialect": "grammar"}, "structured_dialect"),
        ("https://api.example/v1", {"prices": {"m": {"input": 1}}}, "prices['m']"),
        ("https://api.example/v1", {"prices": "{oops"}, "not valid JSON"),
        ("https://api.example/v1", {"timeout": "soon"}, "must be numbers"),
        ("https://api.example/v1", {"rate_limit_waits": -1}, "rate_limit_waits must be 0 or more"),
        # 0 once read as "unset" and became 120 s without a word.
        ("https://api.example/v1", {"timeout": 0}, "timeout must be more than 0 seconds (got 0)"),
        ("https://api.example/v1", {"timeout": "-5"}, "timeout must be more than 0 seconds (got -5)"),
        ("https://api.example/v1", {"max_tokens_per_call": 0}, "max_tokens_per_call must be more than 0"),
        ("https://api.example/v1", {"batch_poll_s": 0}, "batch_poll_s must be more than 0 seconds (got 0)"),
        ("https://api.example/v1", {"batch_poll_s": "often"}, "batch_poll_s must be numbers"),
    ],
)
def test_bad_fields_name_the_problem_and_the_fix(host, extra, message):
    with pytest.raises(LLMConnectionError) as err:
        settings_from_fields("my_llm", host, "k", extra)
    assert message in str(err.value) and "'my_llm'" in str(err.value)


def test_an_empty_extra_gives_the_documented_defaults():
    settings = settings_from_fields("llm", " https://api.example/v1 ", "sk-key-123", {})
    assert settings.base_url == "https://api.example/v1" and settings.model is None
    options = settings.options
    assert (options.request_timeout_s, options.max_tokens_per_call, options.rate_limit_waits) == (
        120,
        4096,
        3,
    )
    assert options.batch_poll_s == 60
    assert (options.structured_dialect, options.max_tokens_param, options.reports_usage) == (
        "json_schema",
        "max_tokens",
        True,
    )
    assert settings.prices == {} and settings.prices_for("any") is None


@pytest.mark.parametrize(
    ("value", "reports"),
    [
        *[("false", False), (" Off ", False), ("NO", False), ("0", False), (False, False), (0, False)],
        *[("true", True), ("yes", True), (True, True), (1, True)],
    ],
)
def test_reports_usage_reads_the_ways_a_form_or_json_writes_a_boolean(value, reports):
    assert (
        settings_from_fields(
            "llm", "https://x.example/v1", None, {"reports_usage": value}
        ).options.reports_usage
        is reports
    )


def test_the_api_key_is_what_runs_scrub_and_a_keyless_local_server_has_nothing_to_scrub():
    assert settings_from_fields("llm", "http://127.0.0.1:8080/v1", "sk-live-abc", {}).secrets == [
        "sk-live-abc"
    ]
    assert settings_from_fields("llm", "http://127.0.0.1:8080/v1", "", {}).secrets == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"prices": ["gpt", 1, 2]}, "extra 'prices' must map a model name (or '*') to"),
        ({"prices": {"m": "cheap"}}, "prices['m'] must be {\"input\""),
        ({"prices": {"m": {"input": "free", "output": 1}}}, "prices['m'] must hold numbers"),
        (
            {"max_tokens_param": "max_new_tokens"},
            "max_tokens_param must be 'max_tokens' or 'max_completion_tokens'",
        ),
        (
            {"max_tokens_per_call": "lots"},
            "timeout, max_tokens_per_call, rate_limit_waits and batch_poll_s must be numbers",
        ),
    ],
)
def test_more_bad_fields_name_the_field_and_what_it_must_be(extra, message):
    with pytest.raises(LLMConnectionError) as err:
        settings_from_fields("team_llm", "https://api.example/v1", "k", extra)
    assert str(err.value).startswith("connection 'team_llm': ") and message in str(err.value)


def test_a_bad_base_url_is_echoed_so_the_typo_can_be_seen_but_a_key_in_it_is_not():
    with pytest.raises(LLMConnectionError, match=r"got 'ftp://api\.example/v1'"):
        settings_from_fields("llm", "ftp://api.example/v1", None, {})
    with pytest.raises(LLMConnectionError) as err:
        settings_from_fields("llm", "https://sk-secret-1@api.example/v1", None, {})
    assert "sk-secret-1" not in str(err.value)

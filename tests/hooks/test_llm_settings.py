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
    ],
)
def test_bad_fields_name_the_problem_and_the_fix(host, extra, message):
    with pytest.raises(LLMConnectionError) as err:
        settings_from_fields("my_llm", host, "k", extra)
    assert message in str(err.value) and "'my_llm'" in str(err.value)

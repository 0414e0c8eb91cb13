"""The LLM connection: fields to settings, and the hook against a real loopback endpoint."""

from __future__ import annotations

import json

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


@pytest.fixture
def env_conn(model_server, monkeypatch):
    conn = {"conn_type": "agentjobs_llm", "host": model_server.base_url, "password": "sk-x", "extra": {}}
    monkeypatch.setenv("AIRFLOW_CONN_LLM_ENV", json.dumps(conn))
    return "llm_env"


def test_the_hook_builds_a_client_for_the_endpoint(env_conn, model_server):
    from agentjobs.hooks.llm import LLMHook
    from tests.fakes.model_server import reply

    model_server.script(reply("hi"))
    client = LLMHook(env_conn).get_model_client("chosen-model")
    completion = client.complete([{"role": "user", "content": "hello"}])
    client.close()
    assert completion.content == "hi"
    request = model_server.requests[0]
    assert request.body["model"] == "chosen-model"
    assert request.headers["authorization"] == "Bearer sk-x"


def test_the_hook_needs_a_model_from_somewhere(env_conn):
    from agentjobs.hooks.llm import LLMHook

    with pytest.raises(LLMConnectionError, match="no model given"):
        LLMHook(env_conn).get_model_client()


def test_connection_test_reaches_the_endpoint(env_conn, model_server):
    from agentjobs.hooks.llm import LLMHook

    ok, message = LLMHook(env_conn).test_connection()
    assert ok, message
    model_server.stop()
    ok, message = LLMHook(env_conn).test_connection()
    assert not ok and "Connection" in message

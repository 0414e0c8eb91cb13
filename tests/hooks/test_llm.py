"""LLMHook against a real loopback endpoint: the client it builds, the model it needs, the connection test;
and it keeps what it read: one connection read per hook, one client until it is closed."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from agentjobs.hooks.llm_settings import LLMConnectionError
from tests.fakes.connection_reads import count_connection_reads
from tests.fakes.model_server import reply


@pytest.fixture
def counted_conn(model_server, monkeypatch) -> tuple[str, Counter[str]]:
    """An agentjobs_llm connection from the environment, and a count of its reads."""
    conn = {
        "conn_type": "agentjobs_llm",
        "host": model_server.base_url,
        "password": "sk-x",
        "extra": {"model": "m"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_LLM_COUNTED", json.dumps(conn))
    return "llm_counted", count_connection_reads(monkeypatch)


def test_settings_and_clients_come_from_one_read_of_the_connection(counted_conn, model_server):
    from agentjobs.hooks.llm import LLMHook

    conn_id, read = counted_conn
    hook = LLMHook(conn_id)
    settings = hook.get_settings()
    first = hook.get_model_client()
    second = hook.get_model_client("other")
    assert read[conn_id] == 1
    assert hook.get_settings() is settings and first.client is second.client
    model_server.script(reply("one"), reply("two"))
    assert first.complete([{"role": "user", "content": "hi"}]).content == "one"
    assert [r.body["model"] for r in model_server.requests] == ["m"]
    first.close()
    # A closed client is not handed out again: the next one is new, the connection not read again.
    third = hook.get_model_client()
    assert third.client is not first.client and not third.client.is_closed()
    assert third.complete([{"role": "user", "content": "hi"}]).content == "two"
    third.close()
    assert read[conn_id] == 1


def test_each_hook_reads_the_connection_as_it_is_now(counted_conn, model_server, monkeypatch):
    from agentjobs.hooks.llm import LLMHook

    conn_id, read = counted_conn
    assert LLMHook(conn_id).get_settings().model == "m"
    conn = {"conn_type": "agentjobs_llm", "host": model_server.base_url, "extra": {"model": "changed"}}
    monkeypatch.setenv("AIRFLOW_CONN_LLM_COUNTED", json.dumps(conn))
    assert LLMHook(conn_id).get_settings().model == "changed"  # a new task sees an edited connection
    assert read[conn_id] == 2


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


def test_without_limits_the_client_has_no_limiter(env_conn):
    from agentjobs.hooks.llm import LLMHook

    client = LLMHook(env_conn).get_model_client("m")
    assert client.limiter is None
    client.close()


def test_limits_give_every_hook_of_the_connection_one_shared_bucket_in_the_ledger(
    model_server, monkeypatch, tmp_path
):
    from agentjobs.agent.rate_limit_sql import SqlBucketStore
    from agentjobs.hooks.llm import LLMHook

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("AGENTJOBS_LEDGER_CONN_ID", raising=False)
    extra = {"model": "m", "requests_per_minute": 6}
    conn = {"conn_type": "agentjobs_llm", "host": model_server.base_url, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_LLM_LIMITED", json.dumps(conn))
    first, second = LLMHook("llm_limited").get_model_client(), LLMHook("llm_limited").get_model_client()
    assert isinstance(first.limiter.store, SqlBucketStore)  # `ledger` is the default store
    assert first.limiter.store.engine.url.database == str(tmp_path / "agentjobs-ledger.db")
    # Two tasks' hooks, one bucket: the second call waits for the slot the first one took.
    assert first.limiter.acquire() == 0.0
    assert second.limiter.acquire() > 9
    first.close()
    second.close()


def test_a_redis_store_is_keyed_by_the_connection_and_its_password_is_a_secret(model_server, monkeypatch):
    pytest.importorskip("redis")
    from agentjobs.agent.rate_limit_redis import RedisBucketStore
    from agentjobs.hooks.llm import LLMHook

    extra = {
        "model": "m",
        "tokens_per_minute": 1000,
        "rate_limit_store": "redis://:r3dis-pw@127.0.0.1:6379/0",
    }
    conn = {"conn_type": "agentjobs_llm", "host": model_server.base_url, "password": "sk-x", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_LLM_REDIS", json.dumps(conn))
    hook = LLMHook("llm_redis")
    store = hook.limiter.store
    assert isinstance(store, RedisBucketStore)
    assert store.key == "agentjobs:ratelimit:llm_redis"
    assert hook.settings.secrets == ["sk-x", "r3dis-pw"]  # scrubbed from transcripts and alerts
    store.client.close()


def test_an_unreachable_endpoint_names_its_url_and_the_connection_to_fix(model_server, monkeypatch):
    from agentjobs.agent.errors import TransientAgentError
    from agentjobs.hooks.llm import LLMHook

    conn = {
        "conn_type": "agentjobs_llm",
        "description": "set from OPENAI_BASE_URL",
        "host": model_server.base_url,
        "password": "sk-unreached",
        "extra": {"model": "m"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_LLM_GONE", json.dumps(conn))
    client = LLMHook("llm_gone").get_model_client()
    model_server.stop()
    with pytest.raises(TransientAgentError) as raised:
        client.complete([{"role": "user", "content": "hello"}])
    client.close()
    message = str(raised.value)
    assert (
        f"cannot reach the model endpoint {model_server.base_url.rstrip('/')} (the Base URL of "
        "connection 'llm_gone'; set from OPENAI_BASE_URL)"
    ) in message
    assert "sk-unreached" not in message

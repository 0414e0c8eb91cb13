"""LLMHook keeps what it read: one connection read per hook, one client until it is closed."""

from __future__ import annotations

import json
from collections import Counter

import pytest

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

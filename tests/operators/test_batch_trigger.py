"""BatchTrigger against the loopback Batch API: it fires once every batch is final, with their
statuses, reads the endpoint from the LLM connection, and fires an error it cannot poll through."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from agentjobs.agent.batch_client import BatchApi
from agentjobs.agent.batch_request import jsonl
from agentjobs.operators.batch_trigger import BatchTrigger
from tests.fakes.batch_api import EXPIRED
from tests.fakes.model_server import reply

CONN = "agentjobs_llm_batch_trigger"
LINES = [{"custom_id": k, "method": "POST", "url": "/v1/chat/completions", "body": {}} for k in ("a", "b")]


@pytest.fixture
def conn(model_server, monkeypatch) -> str:
    extra = {"model": "m", "timeout": 5}
    value = {
        "conn_type": "agentjobs_llm",
        "host": model_server.base_url,
        "password": "sk-trigger",
        "extra": extra,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps(value))
    return CONN


def submit(model_server) -> str:
    with openai.OpenAI(base_url=model_server.base_url, api_key="sk", max_retries=0) as sdk:
        return BatchApi(sdk).submit(jsonl(LINES)).batch_id


def first_event(trigger: BatchTrigger, timeout_s: float = 10):
    async def run():
        return await asyncio.wait_for(anext(trigger.run()), timeout_s)

    return asyncio.run(run()).payload


def test_it_fires_once_every_batch_is_final_with_their_statuses(conn, model_server):
    fake = model_server.batch_api
    fake.answer = lambda key, body: reply("{}")
    done = submit(model_server)
    fake.statuses = EXPIRED
    expired = submit(model_server)
    event = first_event(BatchTrigger([done, expired], conn, poll_interval_s=0.01))
    assert [(s["batch_id"], s["status"]) for s in event["statuses"]] == [
        (done, "completed"),
        (expired, "expired"),
    ]
    assert event["statuses"][0]["output_file_id"] and event["statuses"][0]["completed"] == 2
    assert fake.batches[done].polls == 4 and fake.batches[expired].polls == 3  # no poll after final
    polls = [r for r in fake.requests if r.method == "GET"]
    assert polls and all(r.headers["authorization"] == "Bearer sk-trigger" for r in polls)
    assert model_server.calls == 0


def test_a_batch_the_endpoint_does_not_know_fires_an_error(conn, model_server):
    event = first_event(BatchTrigger(["batch-gone"], conn, poll_interval_s=0.01))
    assert "batch batch-gone" in event["error"] and "HTTP 404" in event["error"]


def test_an_endpoint_that_does_not_answer_is_polled_through_not_fired(conn, model_server):
    batch_id = submit(model_server)
    model_server.stop()
    with pytest.raises(TimeoutError):
        first_event(BatchTrigger([batch_id], conn, poll_interval_s=0.05), timeout_s=0.5)


def test_it_serializes_to_what_rebuilds_it():
    trigger = BatchTrigger(["b1", "b2"], "c", poll_interval_s=30)
    path, kwargs = trigger.serialize()
    assert path == "agentjobs.operators.batch_trigger.BatchTrigger"
    assert BatchTrigger(**kwargs).serialize() == (path, kwargs)


def test_without_an_interval_of_its_own_it_polls_at_the_connections_batch_poll_s(model_server, monkeypatch):
    value = {
        "conn_type": "agentjobs_llm",
        "host": model_server.base_url,
        "password": "sk-trigger",
        "extra": {"model": "m", "batch_poll_s": 0.01},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps(value))
    model_server.batch_api.answer = lambda key, body: reply("{}")
    batch_id = submit(model_server)
    # Four polls from validating to completed: at the default 60 s this would time out.
    event = first_event(BatchTrigger([batch_id], CONN), timeout_s=5)
    assert event["statuses"][0]["status"] == "completed"

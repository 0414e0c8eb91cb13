"""The Batch API client against the loopback fake: upload, create, status, result files."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from agentjobs.agent.batch_client import BatchApi, BatchStatus, BatchUnavailable
from agentjobs.agent.batch_request import jsonl
from agentjobs.agent.batch_results import parse_results
from agentjobs.agent.errors import ModelRequestError, TransientAgentError
from tests.fakes.batch_api import EXPIRED, FAILED
from tests.fakes.model_server import ScriptedModelServer, error, reply

LINES = [
    {
        "custom_id": key,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": []},
    }
    for key in ("north", "south", "east")
]


@pytest.fixture
def api(model_server) -> Iterator[BatchApi]:
    sdk = openai.OpenAI(base_url=model_server.base_url, api_key="sk-test", max_retries=0)
    yield BatchApi(sdk)
    sdk.close()


def poll_to_the_end(api: BatchApi, batch_id: str) -> list[str]:
    seen = [api.status(batch_id)]
    while not seen[-1].final:
        seen.append(api.status(batch_id))
    return [s.status for s in seen]


def test_a_batch_is_uploaded_created_and_answered(api, model_server: ScriptedModelServer):
    model_server.batch_api.answer = lambda key, body: reply(f'{{"team": "{key}"}}', prompt_tokens=7)
    submitted = api.submit(jsonl(LINES), metadata={"job": "weekly"})
    fake = model_server.batch_api
    assert fake.files[submitted.input_file_id] == ("batch", jsonl(LINES))
    assert fake.batches[submitted.batch_id].metadata == {"job": "weekly"}
    assert poll_to_the_end(api, submitted.batch_id) == [
        "validating",
        "in_progress",
        "finalizing",
        "completed",
    ]
    status = api.status(submitted.batch_id)
    assert (status.total, status.completed, status.failed, status.error_file_id) == (3, 3, 0, None)
    results = parse_results(["north", "south", "east"], api.download(status.output_file_id))
    assert json.loads(results.answered["east"]["choices"][0]["message"]["content"]) == {"team": "east"}
    assert results.usage_of("north")["prompt_tokens"] == 7 and not results.failed and not results.missing
    assert model_server.calls == 0  # no online call


def test_a_partial_batch_has_an_error_file_and_lines_left_out(api, model_server):
    answers = {"north": reply("{}"), "south": error(400, "prompt too long")}
    model_server.batch_api.answer = lambda key, body: answers.get(key)
    batch_id = api.submit(jsonl(LINES)).batch_id
    poll_to_the_end(api, batch_id)
    status = api.status(batch_id)
    results = parse_results(
        ["north", "south", "east"], api.download(status.output_file_id), api.download(status.error_file_id)
    )
    assert list(results.answered) == ["north"] and results.failed == {"south": "HTTP 400: prompt too long"}
    assert results.missing == ("east",)


def test_an_expired_batch_lists_the_requests_it_did_not_run(api, model_server):
    model_server.batch_api.statuses = EXPIRED
    model_server.batch_api.answer = lambda key, body: reply("{}") if key == "north" else None
    batch_id = api.submit(jsonl(LINES)).batch_id
    assert poll_to_the_end(api, batch_id) == ["validating", "in_progress", "expired"]
    status = api.status(batch_id)
    results = parse_results(
        ["north", "south", "east"], api.download(status.output_file_id), api.download(status.error_file_id)
    )
    assert list(results.answered) == ["north"]
    assert set(results.failed) == {"south", "east"} and results.failed["east"].startswith("batch_expired")


def test_a_batch_that_fails_validation_says_why_and_has_no_files(api, model_server):
    model_server.batch_api.statuses = FAILED
    batch_id = api.submit(jsonl(LINES)).batch_id
    assert poll_to_the_end(api, batch_id) == ["validating", "failed"]
    status = api.status(batch_id)
    assert (
        status.errors == ("invalid_request: scripted validation failure",) and status.output_file_id is None
    )
    assert api.download(None) == ""
    assert BatchStatus.from_dict(status.as_dict()) == status


def test_endpoint_errors_are_sorted_as_the_online_calls_are(api, model_server):
    with pytest.raises(ModelRequestError, match="Batch API refused the request: HTTP 404") as refused:
        api.status("batch-none")
    assert not isinstance(refused.value, BatchUnavailable)  # a batch gone is not "no Batch API"
    model_server.stop()
    with pytest.raises(TransientAgentError, match="cannot reach the Batch API"):
        api.status("batch-none")


def test_an_endpoint_without_a_batch_api_is_told_apart_from_a_bad_key(api, model_server):
    fake = model_server.batch_api
    fake.refuse = {"files": error(404, "File Not Found")}  # the embedded llama.cpp server's answer
    with pytest.raises(BatchUnavailable) as refused:
        api.submit(jsonl(LINES))
    assert refused.value.url == f"{model_server.base_url}/files" and refused.value.status_code == 404
    assert "HTTP 404: File Not Found" in str(refused.value)
    fake.refuse = {"batches": error(400, "batches are not enabled for this project")}
    with pytest.raises(BatchUnavailable, match=r"/batches refused the batch \(HTTP 400"):
        api.submit(jsonl(LINES))
    # A refused key is no reason to ask online with the same key: it stays a plain refusal.
    fake.refuse = {"files": error(401, "Incorrect API key provided")}
    with pytest.raises(ModelRequestError, match=r"refused the key: HTTP 401.*check the LLM") as bad:
        api.submit(jsonl(LINES))
    assert not isinstance(bad.value, BatchUnavailable)
    # A server error may pass: retried as ever, not taken for a missing Batch API.
    fake.refuse = {"files": error(503, "overloaded")}
    with pytest.raises(TransientAgentError):
        api.submit(jsonl(LINES))
    assert fake.batches == {}

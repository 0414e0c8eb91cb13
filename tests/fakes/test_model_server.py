"""The scripted model server must look like the real API to the official openai SDK."""

from __future__ import annotations

import json
import threading
import time

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion

from tests.fakes.model_server import (
    RecordedRequest,
    ScriptedModelServer,
    error,
    malformed,
    reply,
    respond,
    slow,
    tool_call,
    tool_calls,
)

MESSAGES = [{"role": "user", "content": "hi"}]


def client_for(server: ScriptedModelServer, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, **kwargs)


def ask(server: ScriptedModelServer, **kwargs):
    return client_for(server).chat.completions.create(model="m", messages=MESSAGES, **kwargs)


def test_reply_is_parsed_with_usage(model_server):
    model_server.script(reply("hello", prompt_tokens=7, completion_tokens=3))
    completion = ask(model_server)
    assert isinstance(completion, ChatCompletion)
    assert completion.object == "chat.completion"
    assert completion.model == "scripted"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "hello"
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 3)
    assert completion.usage.total_tokens == 10


def test_reply_finish_reason_and_model_overrides(model_server):
    model_server.script(reply("cut", finish_reason="length", model="gpt-x"))
    completion = ask(model_server)
    assert completion.choices[0].finish_reason == "length"
    assert completion.model == "gpt-x"


def test_usage_can_be_omitted(model_server):
    model_server.script(reply("no usage", usage=False))
    assert ask(model_server).usage is None


def test_tool_call_is_parsed(model_server):
    model_server.script(tool_call("search", {"q": "airflow", "k": 3}, call_id="call_abc", prompt_tokens=20))
    completion = ask(model_server)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.id == "call_abc"
    assert call.type == "function"
    assert call.function.name == "search"
    assert json.loads(call.function.arguments) == {"q": "airflow", "k": 3}
    assert completion.usage.prompt_tokens == 20


def test_tool_call_generates_unique_ids_and_keeps_raw_string_arguments(model_server):
    model_server.script(tool_call("a", '{"broken": '), tool_call("a", {}))
    first = ask(model_server).choices[0].message.tool_calls[0]
    second = ask(model_server).choices[0].message.tool_calls[0]
    assert first.function.arguments == '{"broken": '
    assert first.id.startswith("call_") and first.id != second.id


def test_several_tool_calls_in_one_message(model_server):
    model_server.script(
        tool_calls([("read", {"path": "a"}), ("write", {"path": "b"}, "call_2")], content="working on it")
    )
    message = ask(model_server).choices[0].message
    assert message.content == "working on it"
    assert [c.function.name for c in message.tool_calls] == ["read", "write"]
    assert message.tool_calls[1].id == "call_2"
    assert json.loads(message.tool_calls[0].function.arguments) == {"path": "a"}


def test_rate_limit_error_exposes_retry_after(model_server):
    model_server.script(error(429, "slow down", retry_after=2))
    with pytest.raises(openai.RateLimitError) as exc_info:
        ask(model_server)
    exc = exc_info.value
    assert exc.status_code == 429
    assert exc.response.headers["retry-after"] == "2"
    assert exc.code == "rate_limit_exceeded"
    assert "slow down" in exc.message


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_error_statuses_map_to_sdk_exceptions(model_server, status, exc_type):
    model_server.script(error(status, "nope", error_type="custom_type"))
    with pytest.raises(exc_type) as exc_info:
        ask(model_server)
    assert exc_info.value.status_code == status
    assert exc_info.value.type == "custom_type"
    assert exc_info.value.body["message"] == "nope"


def test_malformed_json_body_raises_json_decode_error(model_server):
    # The SDK does not wrap this in an openai exception: a bare json.JSONDecodeError escapes.
    model_server.script(malformed())
    with pytest.raises(json.JSONDecodeError):
        ask(model_server)


def test_malformed_non_json_content_type_returns_plain_text(model_server):
    # Without strict validation the SDK hands back the raw text instead of a ChatCompletion.
    model_server.script(malformed(b"gateway says hi", content_type="text/plain"))
    assert ask(model_server) == "gateway says hi"


def test_wrong_shaped_json_gives_hollow_completion(model_server):
    # Non-strict parsing accepts any JSON object; the fields the agent needs are simply None.
    model_server.script(malformed(b'{"foo": 1}'))
    completion = ask(model_server)
    assert isinstance(completion, ChatCompletion)
    assert completion.choices is None


def test_malformed_with_error_status_raises_status_error(model_server):
    model_server.script(malformed(b"<html>bad gateway</html>", status=502, content_type="text/html"))
    with pytest.raises(openai.InternalServerError):
        ask(model_server)


def test_slow_step_times_out_client_and_server_survives(model_server):
    model_server.script(slow(2, reply("late")), reply("on time"))
    client = client_for(model_server, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert time.monotonic() - started < 1.5
    # The abandoned slow request is still sleeping; the server keeps answering others.
    assert ask(model_server).choices[0].message.content == "on time"


def test_slow_step_does_not_block_concurrent_requests(model_server):
    model_server.script(slow(0.5, reply("slow")), reply("fast"))
    results: list[str] = []
    worker = threading.Thread(target=lambda: results.append(ask(model_server).choices[0].message.content))
    worker.start()
    while model_server.calls < 1:
        time.sleep(0.01)
    assert ask(model_server).choices[0].message.content == "fast"
    worker.join(timeout=5)
    assert results == ["slow"]


def test_requests_are_recorded_with_the_client_body(model_server):
    model_server.script(reply("ok"))
    tools = [
        {
            "type": "function",
            "function": {"name": "search", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    ask(model_server, tools=tools, max_tokens=64)
    assert model_server.calls == 1
    [request] = model_server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer test"
    assert request.body["model"] == "m"
    assert request.body["messages"] == MESSAGES
    assert request.body["tools"] == tools
    assert request.body["max_tokens"] == 64


def test_exhausted_script_answers_500(model_server):
    model_server.script(reply("only one"))
    ask(model_server)
    with pytest.raises(openai.InternalServerError) as exc_info:
        ask(model_server)
    assert "script exhausted" in exc_info.value.message
    assert model_server.calls == 2
    assert model_server.pending == 0


def test_default_step_is_used_when_queue_is_empty(model_server):
    model_server.default_step = reply("again")
    model_server.script(reply("first"))
    contents = [ask(model_server).choices[0].message.content for _ in range(3)]
    assert contents == ["first", "again", "again"]


def test_respond_computes_step_from_request(model_server):
    def echo_enum(request: RecordedRequest):
        schema = request.body["response_format"]["json_schema"]["schema"]
        return reply(json.dumps({"label": schema["properties"]["label"]["enum"][0]}))

    model_server.script(respond(echo_enum))
    response_format = {
        "type": "json_schema",
        "json_schema": {
            "name": "out",
            "schema": {"type": "object", "properties": {"label": {"type": "string", "enum": ["green"]}}},
        },
    }
    completion = ask(model_server, response_format=response_format)
    assert json.loads(completion.choices[0].message.content) == {"label": "green"}


def test_reset_clears_script_and_recordings(model_server):
    model_server.script(reply("a"), reply("b"))
    model_server.default_step = reply("d")
    ask(model_server)
    model_server.reset()
    assert (model_server.calls, model_server.pending, model_server.default_step) == (0, 0, None)
    with pytest.raises(openai.InternalServerError):
        ask(model_server)


def test_models_endpoint_and_unknown_routes(model_server):
    assert [m.id for m in client_for(model_server).models.list()] == ["scripted"]
    response = httpx.post(model_server.base_url + "/embeddings", json={})
    assert response.status_code == 404
    assert "error" in response.json()
    assert model_server.calls == 0  # only chat completions are recorded


def test_stop_is_prompt_with_slow_step_in_flight():
    server = ScriptedModelServer().start()
    server.script(slow(30, reply("never")))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            ask(server)
        except Exception as exc:
            errors.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    while server.calls < 1:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    worker.join(timeout=2)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], openai.APIConnectionError)
    server.stop()  # idempotent


def test_context_manager_binds_ephemeral_port():
    with ScriptedModelServer() as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.port != 0
        server.script(reply("ctx"))
        assert ask(server).choices[0].message.content == "ctx"

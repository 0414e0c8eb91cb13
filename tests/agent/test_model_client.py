"""ModelClient: one chat-completions call against a real loopback endpoint, what it sends, and how
the endpoint's failures come back (transient ones worth a retry, permanent ones naming the cause)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from agentjobs.agent.errors import ModelRequestError, RateLimited, TransientAgentError
from agentjobs.agent.model_client import EndpointOptions, ModelClient
from tests.fakes.model_server import ScriptedModelServer, Step, error, malformed, reply, slow, tool_call

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def make_client(model_server: ScriptedModelServer) -> Iterator:
    made: list[ModelClient] = []

    def make(options: EndpointOptions | None = None) -> ModelClient:
        sdk = openai.OpenAI(base_url=model_server.base_url, api_key="sk-client-test", max_retries=0)
        made.append(ModelClient(sdk, "the-model", options))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_a_call_sends_the_model_at_temperature_zero_and_only_the_parameters_given(model_server, make_client):
    model_server.script(reply("one"), reply("two"))
    client = make_client()
    client.complete(HELLO)
    client.complete(HELLO, max_tokens=64, tools=[], response_format={"type": "json_object"})
    bare, full = (r.body for r in model_server.requests)
    assert bare == {"model": "the-model", "messages": HELLO, "temperature": 0}
    # An empty tool list is not sent: some servers refuse `tools: []`.
    assert "tools" not in full and full["max_tokens"] == 64
    assert full["response_format"] == {"type": "json_object"}


def test_the_reply_carries_text_tool_calls_usage_and_the_model_that_answered(model_server, make_client):
    model_server.script(
        tool_call("read_file", {"path": "a.md"}, call_id="c1", content="looking", model="m-2")
    )
    completion = make_client().complete(HELLO)
    assert completion.content == "looking"
    assert [(c.id, c.name, c.arguments) for c in completion.tool_calls] == [
        ("c1", "read_file", '{"path": "a.md"}')
    ]
    assert (completion.prompt_tokens, completion.completion_tokens, completion.total_tokens) == (10, 5, 15)
    assert completion.model == "m-2" and completion.finish_reason == "tool_calls"


def test_a_kept_response_parses_back_to_the_same_completion(model_server, make_client):
    model_server.script(tool_call("ping", "{}", call_id="c9", content="hm"))
    client = make_client()
    live = client.complete(HELLO)
    again = client.from_raw(live.raw)
    assert again == live
    assert model_server.calls == 1


def test_the_fingerprint_ignores_max_tokens_and_the_timeout_but_not_the_question(make_client):
    client = make_client()
    first = client.request_fingerprint_fields(HELLO, None, None)
    assert first == client.request_fingerprint_fields(list(HELLO), None, None)
    assert first != client.request_fingerprint_fields([{"role": "user", "content": "other"}], None, None)
    assert first != client.request_fingerprint_fields(HELLO, None, {"type": "json_object"})


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("json_schema", {"type": "json_schema", "json_schema": {"name": "n", "schema": {}, "strict": True}}),
        ("json_object_schema", {"type": "json_object", "schema": {}}),
    ],
)
def test_the_response_format_follows_the_endpoints_dialect(make_client, dialect, expected):
    assert make_client(EndpointOptions(structured_dialect=dialect)).response_format("n", {}) == expected


@pytest.mark.parametrize(
    ("step", "kind", "retry_after"),
    [
        (error(408, "request timeout"), TransientAgentError, None),
        (error(502, "bad gateway", retry_after=7), TransientAgentError, 7.0),
        (error(429, "slow down", retry_after=2.5), RateLimited, 2.5),
        (error(404, "model 'the-model' not found"), ModelRequestError, None),
        (error(422, "unprocessable"), ModelRequestError, None),
        (error(418, "I'm a teapot"), ModelRequestError, None),  # an unknown 4xx is not retried
    ],
)
def test_status_errors_are_sorted_and_name_the_status_and_the_endpoints_message(
    model_server, make_client, step, kind, retry_after
):
    model_server.script(step)
    with pytest.raises(kind) as err:
        make_client().complete(HELLO)
    assert type(err.value) is kind
    assert str(err.value) == f"HTTP {step.status}: {step.payload['error']['message']}"
    assert getattr(err.value, "retry_after_s", None) == retry_after


def test_a_retry_after_that_is_a_date_is_ignored_rather_than_failing(model_server, make_client):
    model_server.script(
        Step(
            status=503,
            payload={"error": {"message": "down"}},
            headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"},
        )
    )
    with pytest.raises(TransientAgentError) as err:
        make_client().complete(HELLO)
    assert err.value.retry_after_s is None and "HTTP 503: down" in str(err.value)


def test_an_endless_error_message_is_cut_to_a_readable_length(model_server, make_client):
    model_server.script(error(400, "x" * 100_000))
    with pytest.raises(ModelRequestError) as err:
        make_client().complete(HELLO)
    assert str(err.value).startswith("HTTP 400: xxx") and len(str(err.value)) == 500


@pytest.mark.parametrize(
    "step",
    [
        malformed(b"<html><body>502 Bad Gateway</body></html>", content_type="text/html"),
        malformed(b'{"choices": [{"message": '),
    ],
    ids=["html-page", "truncated-json"],
)
def test_a_body_that_is_not_a_completion_is_transient(model_server, make_client, step):
    model_server.script(step)
    with pytest.raises(TransientAgentError):
        make_client().complete(HELLO)


def test_a_reply_with_no_choices_is_transient(model_server, make_client):
    model_server.script(
        Step(payload={"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []})
    )
    with pytest.raises(TransientAgentError, match="returned no choices"):
        make_client().complete(HELLO)


def test_a_reply_without_usage_names_the_connection_setting_that_allows_it(model_server, make_client):
    model_server.script(reply("hi", usage=False), reply("hi", usage=False))
    with pytest.raises(ModelRequestError, match="set reports_usage=false in the LLM connection"):
        make_client().complete(HELLO)
    tolerant = make_client(EndpointOptions(reports_usage=False)).complete(HELLO)
    assert tolerant.content == "hi" and tolerant.total_tokens is None


def test_a_slow_endpoint_times_out_as_transient_naming_the_timeout(model_server, make_client):
    model_server.script(slow(3, reply("late")))
    with pytest.raises(TransientAgentError, match=r"model call timed out after 0\.3s"):
        make_client(EndpointOptions(request_timeout_s=60)).complete(HELLO, timeout_s=0.3)


def test_an_endpoint_that_is_gone_is_transient(model_server, make_client):
    client = make_client()
    model_server.stop()
    with pytest.raises(TransientAgentError, match="cannot reach the model endpoint") as raised:
        client.complete(HELLO)
    # The user sees which endpoint: its host and path, not a key a query string may carry.
    assert f"cannot reach the model endpoint {model_server.base_url.rstrip('/')}:" in str(raised.value)


def test_the_endpoints_address_keeps_no_credentials_or_query():
    from agentjobs.agent.model_client import endpoint_address

    address = endpoint_address("https://bob:pw@gw.example:8443/openai/v1/?api-key=sk-secret")
    assert address == "https://gw.example:8443/openai/v1"

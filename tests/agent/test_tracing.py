"""The agent loop's OpenTelemetry spans against a real chat completions server, kept in memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel, ConfigDict

from agentjobs.agent.budget import BudgetMeter, Prices
from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import BudgetExceeded, ModelRequestError
from agentjobs.agent.failover import Endpoint, Failover
from agentjobs.agent.loop import Agent
from agentjobs.agent.model_client import EndpointOptions, ModelClient
from agentjobs.agent.permissions import PermissionEngine
from agentjobs.agent.tools import ToolRegistry, builtin_tools
from agentjobs.agent.tracing import RunTracer
from tests.fakes.model_server import ScriptedModelServer, error, reply, tool_call, tool_calls

KEY = "sk-test-tracing-secret-0123456789"
GOOD = 'Done.\nRESULT: {"items": 2}'


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    items: int


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def client(server: ScriptedModelServer, model: str = "m") -> ModelClient:
    options = EndpointOptions(request_timeout_s=5, rate_limit_waits=0)
    return ModelClient(openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0), model, options)


def traced_agent(
    provider: TracerProvider,
    server: ScriptedModelServer,
    tmp_path: Path,
    *,
    content: bool = False,
    **kwargs: Any,
) -> Agent:
    registry = ToolRegistry()
    for tool in builtin_tools(PermissionEngine(tmp_path)):
        registry.register(tool)
    tracer = RunTracer(provider.get_tracer("test"), "digest", content=content, secrets=[KEY])
    caps = kwargs.pop("caps", Caps())
    return Agent(
        client=client(server),
        meter=BudgetMeter(caps, Prices(input_per_million=1.0, output_per_million=4.0)),
        tools=registry,
        tracer=tracer,
        secrets=[KEY],
        **kwargs,
    )


def run(agent: Agent, prompt: str = "go") -> Any:
    return agent.run(system="sys", prompt=prompt, result_model=Answer)


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def test_a_run_is_one_agent_span_over_a_chat_span_per_call_and_a_tool_span_per_tool_call(
    model_server, tmp_path, spans
):
    provider, exporter = spans
    (tmp_path / "notes.txt").write_text("two")
    model_server.script(
        tool_calls([("list_files", {}, "c1"), ("read_file", {"path": "notes.txt"}, "c2")], prompt_tokens=100),
        reply(GOOD, prompt_tokens=150, completion_tokens=20, model="m-2026"),
    )
    run(traced_agent(provider, model_server, tmp_path))

    found = by_name(exporter)
    (agent,) = found["invoke_agent digest"]
    chats = found["chat m"]
    assert [c.parent.span_id for c in chats] == [agent.context.span_id] * 2
    assert [c.attributes["gen_ai.usage.input_tokens"] for c in chats] == [100, 150]
    assert [c.attributes["gen_ai.usage.output_tokens"] for c in chats] == [5, 20]
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in chats] == [("tool_calls",), ("stop",)]
    assert chats[1].attributes["gen_ai.response.model"] == "m-2026"
    assert chats[0].kind is SpanKind.CLIENT and chats[0].attributes["gen_ai.request.max_tokens"] == 4096
    tools = found["execute_tool list_files"] + found["execute_tool read_file"]
    assert [(t.attributes["gen_ai.tool.name"], t.attributes["gen_ai.tool.call.id"]) for t in tools] == [
        ("list_files", "c1"),
        ("read_file", "c2"),
    ]
    assert {t.parent.span_id for t in tools} == {agent.context.span_id}
    assert agent.attributes["gen_ai.usage.input_tokens"] == 250
    assert agent.attributes["gen_ai.usage.output_tokens"] == 25
    assert agent.attributes["agentjobs.model_calls"] == 2
    assert agent.attributes["agentjobs.cost_usd"] == pytest.approx((250 * 1.0 + 25 * 4.0) / 1e6)
    assert agent.attributes["gen_ai.response.model"] == "m-2026"
    # No text of the conversation unless the run opts in.
    assert all("gen_ai.input.messages" not in c.attributes for c in chats)
    assert all("gen_ai.tool.call.result" not in t.attributes for t in tools)


def test_opted_in_content_is_on_the_spans_with_the_runs_secrets_scrubbed(model_server, tmp_path, spans):
    provider, exporter = spans
    (tmp_path / "notes.txt").write_text(f"the key is {KEY}")
    model_server.script(
        tool_call("read_file", {"path": "notes.txt"}, call_id="c1"),
        reply(f"It said {KEY}.\n" + GOOD),
    )
    run(traced_agent(provider, model_server, tmp_path, content=True), prompt=f"use {KEY} nowhere")

    found = by_name(exporter)
    first, second = found["chat m"]
    assert json.loads(first.attributes["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "sys"}]},
        {"role": "user", "parts": [{"type": "text", "content": "use *** nowhere"}]},
    ]
    (call,) = json.loads(first.attributes["gen_ai.output.messages"])
    assert call["parts"] == [
        {"type": "tool_call", "id": "c1", "name": "read_file", "arguments": '{"path": "notes.txt"}'}
    ]
    (tool,) = found["execute_tool read_file"]
    assert tool.attributes["gen_ai.tool.call.result"] == "the key is ***"
    history = json.loads(second.attributes["gen_ai.input.messages"])
    assert history[-1] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "c1", "response": "the key is ***"}],
    }
    (answer,) = json.loads(second.attributes["gen_ai.output.messages"])
    assert answer["parts"][0]["content"].startswith("It said ***.")
    everything = json.dumps([dict(s.attributes) for s in exporter.get_finished_spans()])
    assert KEY not in everything


def test_a_refused_call_ends_its_span_and_the_runs_in_error_with_the_type(model_server, tmp_path, spans):
    provider, exporter = spans
    model_server.script(error(401, f"bad key {KEY}"))
    with pytest.raises(ModelRequestError):
        run(traced_agent(provider, model_server, tmp_path))

    found = by_name(exporter)
    (chat,) = found["chat m"]
    (agent,) = found["invoke_agent digest"]
    for span in (chat, agent):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == "ModelRequestError"
        assert "HTTP 401" in span.status.description and KEY not in span.status.description
    assert not chat.events  # no exception event: a traceback may quote the request


def test_a_failover_is_a_failed_chat_span_on_the_primary_then_one_on_the_fallback(
    model_server, tmp_path, spans
):
    provider, exporter = spans
    with ScriptedModelServer() as backup:
        model_server.script(error(503, "overloaded"))
        backup.script(reply(GOOD, model="backup-model"))
        failover = Failover(
            [Endpoint(client(model_server), name="primary"), Endpoint(client(backup, "b"), name="backup")]
        )
        run(traced_agent(provider, model_server, tmp_path, failover=failover))

    found = by_name(exporter)
    (failed,) = found["chat m"]
    (answered,) = found["chat b"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "TransientAgentError"
    assert failed.attributes["agentjobs.endpoint"] == "primary"
    assert answered.status.status_code is StatusCode.UNSET
    assert answered.attributes["agentjobs.endpoint"] == "backup"
    assert answered.attributes["gen_ai.response.model"] == "backup-model"
    (agent,) = found["invoke_agent digest"]
    assert agent.status.status_code is StatusCode.UNSET and agent.attributes["agentjobs.model_calls"] == 1


def test_a_spent_cap_ends_the_run_span_in_error(model_server, tmp_path, spans):
    provider, exporter = spans
    model_server.script(tool_call("list_files", {}), reply(GOOD))
    with pytest.raises(BudgetExceeded):
        run(traced_agent(provider, model_server, tmp_path, caps=Caps(max_iterations=1)))
    (agent,) = by_name(exporter)["invoke_agent digest"]
    assert agent.attributes["error.type"] == "BudgetExceeded"
    assert agent.attributes["agentjobs.model_calls"] == 1


def test_without_a_tracer_the_loop_makes_no_span(model_server, tmp_path, spans, monkeypatch):
    from opentelemetry import trace

    provider, exporter = spans
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)  # even with a process provider
    model_server.script(reply(GOOD))
    agent = traced_agent(provider, model_server, tmp_path)
    agent.tracer = None
    assert run(agent).result == Answer(items=2)
    assert exporter.get_finished_spans() == ()

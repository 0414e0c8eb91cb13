"""A digest run's OpenTelemetry trace, as an OTLP/HTTP receiver on loopback gets it.

With Airflow's `[traces] otel_on`, the summarize task sends one `invoke_agent` span for the run,
under it a `chat` span per model call with the GenAI usage attributes and an `execute_tool` span
per tool call; under Airflow's task span when one is current. No prompt or reply text is sent
unless `[agentjobs] trace_content` is on, and then no secret is in it.
"""

from __future__ import annotations

import json

import pytest

from tests.airflow.conftest import run_dag
from tests.fakes.model_server import reply, tool_call
from tests.jobs.specs import digest_spec
from tests.scenarios.digest_job import DAY, LOGICAL, job, make_repo, states  # noqa: F401 (job: a fixture)

pytestmark = pytest.mark.airflow

PLANTED_KEY = "sk-test-planted-secret-0123456789"  # the LLM connection's key (tests/airflow/conftest.py)


@pytest.fixture
def airflow_traces(otlp_receiver, monkeypatch):
    """Airflow's tracing on, its traces endpoint the receiver (the deprecated host/port settings,
    which Airflow 3.3 still reads; the standard OTEL_* variables are left unset)."""
    from agentjobs.operators.tracing import reset_own_provider

    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW__TRACES__OTEL_ON", "True")
    monkeypatch.setenv("AIRFLOW__TRACES__OTEL_HOST", otlp_receiver.host)
    monkeypatch.setenv("AIRFLOW__TRACES__OTEL_PORT", str(otlp_receiver.port))
    reset_own_provider()
    try:
        yield otlp_receiver
    finally:
        reset_own_provider()


@pytest.fixture
def day_sources(tmp_path) -> dict:
    from agentjobs.sources.demo_feed import render_demo_feed

    repo = make_repo(tmp_path / "repo", [("2026-11-24T15:30:00+00:00", "Fix the retry policy")])
    feed = tmp_path / "feed.xml"
    feed.write_text(render_demo_feed(DAY))
    return {"git": {"repos": [str(repo)]}, "rss": {"feeds": [str(feed)]}}


def run_span(receiver):
    (span,) = receiver.named("invoke_agent ")
    return span


def test_a_digest_run_sends_one_chat_span_per_call_with_the_usage_under_the_run_span(job, airflow_traces):  # noqa: F811
    from agentjobs.operators.factory import build_dag

    run = run_dag(build_dag(job), logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)

    agent = run_span(airflow_traces)
    assert agent.name == "invoke_agent daily-digest"
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["airflow.dag_id"] == job.dag_id
    assert agent.attributes["airflow.task_id"] == "summarize"
    assert agent.attributes["gen_ai.usage.input_tokens"] == 400
    assert agent.attributes["gen_ai.usage.output_tokens"] == 60
    assert agent.attributes["agentjobs.cost_usd"] == pytest.approx((400 * 1.0 + 60 * 4.0) / 1e6)
    assert agent.service == "Airflow"

    (chat,) = airflow_traces.children(agent)
    assert chat.name == "chat scripted-model"
    assert chat.kind == "SPAN_KIND_CLIENT"
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "openai"
    assert chat.attributes["gen_ai.request.model"] == "scripted-model"
    assert chat.attributes["gen_ai.response.model"] == "scripted"  # as the endpoint named it
    assert chat.attributes["gen_ai.usage.input_tokens"] == 400
    assert chat.attributes["gen_ai.usage.output_tokens"] == 60
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert chat.attributes["gen_ai.output.type"] == "json"
    assert chat.attributes["server.address"] == "127.0.0.1"
    assert chat.status == "STATUS_CODE_UNSET"

    # Off by default: no prompt, no reply. The commit subjects are in the prompt, the takeaways
    # in the reply; neither is anywhere in what was sent.
    sent = b"".join(airflow_traces.bodies)
    assert b"Fix the retry policy" not in sent and b"Worth a look" not in sent
    assert not any(key.startswith(("gen_ai.input", "gen_ai.output.messages")) for key in chat.attributes)


def test_a_loop_digest_sends_a_tool_span_per_tool_call_and_the_content_scrubbed_when_opted_in(
    llm_conn, model_server, smtp_server, day_sources, airflow_traces, monkeypatch
):
    from agentjobs.operators.factory import build_dag

    monkeypatch.setenv("AIRFLOW__AGENTJOBS__TRACE_CONTENT", "True")
    # A model that quotes the connection's key back, in a tool's arguments and in its answer.
    model_server.script(
        tool_call("list_files", {}, call_id="call-list"),
        tool_call("read_file", {"path": f"missing-{PLANTED_KEY}.md"}, call_id="call-read"),
        tool_call("write_file", {"path": "digest.md", "content": "# Digest\n"}, call_id="call-write"),
        reply(f'Written with {PLANTED_KEY}.\nRESULT: {{"path": "digest.md", "items": 0}}'),
    )
    team = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["team@example.org"]}
    spec = digest_spec(
        "digest_traced_loop", llm_conn, mode="loop", sources=day_sources, channels=[team], allow_empty=True
    )
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert states(run)["summarize"] == "success", states(run)

    agent = run_span(airflow_traces)
    children = airflow_traces.children(agent)
    assert [s.name for s in children if s.name.startswith("chat ")] == ["chat scripted-model"] * 4
    tools = [s for s in children if s.name.startswith("execute_tool ")]
    assert [(s.name, s.attributes["gen_ai.tool.call.id"]) for s in tools] == [
        ("execute_tool list_files", "call-list"),
        ("execute_tool read_file", "call-read"),
        ("execute_tool write_file", "call-write"),
    ]
    assert [s.attributes["gen_ai.tool.name"] for s in tools] == ["list_files", "read_file", "write_file"]
    failed = tools[1]  # no such file: the model is told, the span says so
    assert failed.status == "STATUS_CODE_ERROR" and failed.attributes["error.type"] == "tool_error"
    assert {
        s.attributes["gen_ai.response.finish_reasons"][0] for s in children if s.name.startswith("chat ")
    } == {
        "tool_calls",
        "stop",
    }

    # Opted in: the conversation is on the spans, the key nowhere in what was sent.
    last_chat = [s for s in children if s.name.startswith("chat ")][-1]
    history = json.loads(last_chat.attributes["gen_ai.input.messages"])
    assert [m["role"] for m in history][:2] == ["system", "user"]
    assert history[-1]["parts"][0]["type"] == "tool_call_response"
    (answer,) = json.loads(last_chat.attributes["gen_ai.output.messages"])
    assert answer["parts"][0]["content"].startswith("Written with ***.")
    assert "***" in failed.attributes["gen_ai.tool.call.arguments"]
    assert PLANTED_KEY.encode() not in b"".join(airflow_traces.bodies)


def test_the_run_span_nests_under_airflows_task_span_and_leaves_through_airflows_provider(
    job,  # noqa: F811
    airflow_traces,
    monkeypatch,
):
    """What the task runner does when Airflow's tracing is on: its provider is the process's
    (airflow.settings' configure_otel), and `worker.<task_id>` is the current span around
    `execute`. The agent's spans go to that provider, under that span: one trace."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from agentjobs.operators import tracing
    from agentjobs.operators.factory import build_dag

    airflows = TracerProvider(resource=Resource.create({"service.name": "airflow-workers"}))
    airflows.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{airflow_traces.endpoint}/v1/traces"))
    )
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: airflows)
    dag = build_dag(job)
    try:
        with airflows.get_tracer("airflow.sdk.execution_time.task_runner").start_as_current_span(
            "worker.summarize"
        ):
            run = run_dag(dag, logical_date=LOGICAL)
    finally:
        airflows.shutdown()
    assert states(run)["summarize"] == "success"
    (task,) = airflow_traces.named("worker.summarize")
    agent = run_span(airflow_traces)
    assert agent.parent_span_id == task.span_id and agent.trace_id == task.trace_id
    assert [s.name for s in airflow_traces.children(agent)] == ["chat scripted-model"]
    assert {s.service for s in airflow_traces.spans} == {"airflow-workers"}  # not a provider of ours
    assert tracing._own_provider is None


def test_no_span_is_made_when_airflows_tracing_is_off(job, otlp_receiver, monkeypatch):  # noqa: F811
    from agentjobs.operators import tracing
    from agentjobs.operators.factory import build_dag

    monkeypatch.setenv("AIRFLOW__TRACES__OTEL_ON", "False")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{otlp_receiver.endpoint}/v1/traces")
    run = run_dag(build_dag(job), logical_date=LOGICAL)
    assert states(run)["summarize"] == "success"
    assert tracing._own_provider is None
    assert otlp_receiver.spans == []

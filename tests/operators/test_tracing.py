"""Where an AgentOperator task's trace goes: Airflow's traces settings, the standard OTEL_*
variables, and a collector that is down (the task does not notice)."""

from __future__ import annotations

import socket

import pytest

from tests.airflow.conftest import run_dag
from tests.fakes.model_server import reply, tool_call
from tests.operators.test_agent import LOGICAL_DATE, build_dag, task_state

pytestmark = pytest.mark.airflow


@pytest.fixture
def traces_on(monkeypatch):
    from agentjobs.operators.tracing import reset_own_provider

    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW__TRACES__OTEL_ON", "True")
    reset_own_provider()
    yield monkeypatch
    reset_own_provider()


def script_a_tool_run(model_server) -> None:
    model_server.script(
        tool_call("write_file", {"path": "answer.txt", "content": "alpha\n"}, call_id="w1"),
        reply('RESULT: {"path": "answer.txt", "items": 1}', prompt_tokens=200, completion_tokens=50),
    )


def test_the_standard_otlp_variables_and_service_name_take_precedence_over_airflows_host_and_port(
    llm_conn, model_server, tmp_path, otlp_receiver, traces_on
):
    traces_on.setenv("AIRFLOW__TRACES__OTEL_HOST", "192.0.2.1")  # TEST-NET: must not be used
    traces_on.setenv("AIRFLOW__TRACES__OTEL_PORT", "4318")
    traces_on.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{otlp_receiver.endpoint}/v1/traces")
    traces_on.setenv("AIRFLOW__TRACES__OTEL_SERVICE", "nightly-workers")
    script_a_tool_run(model_server)
    run = run_dag(build_dag("agent_traced_env", llm_conn, tmp_path), logical_date=LOGICAL_DATE)
    assert task_state(run) == "success"

    (agent,) = otlp_receiver.named("invoke_agent echo")
    assert agent.service == "nightly-workers"
    assert agent.attributes["airflow.task_instance.try_number"] == 1
    assert agent.attributes["airflow.task_instance.map_index"] == -1
    names = sorted(s.name for s in otlp_receiver.children(agent))
    assert names == ["chat scripted-model", "chat scripted-model", "execute_tool write_file"]


def test_a_collector_that_is_down_does_not_fail_the_task(llm_conn, model_server, tmp_path, traces_on):
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    traces_on.setenv("AIRFLOW__TRACES__OTEL_HOST", "127.0.0.1")
    traces_on.setenv("AIRFLOW__TRACES__OTEL_PORT", str(port))
    traces_on.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    script_a_tool_run(model_server)
    run = run_dag(build_dag("agent_traced_down", llm_conn, tmp_path), logical_date=LOGICAL_DATE)
    assert task_state(run) == "success"


def test_the_endpoint_comes_from_airflows_traces_settings(monkeypatch):
    from agentjobs.operators.tracing import traces_endpoint

    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW__TRACES__OTEL_HOST", "collector.internal")
    monkeypatch.setenv("AIRFLOW__TRACES__OTEL_PORT", "4318")
    monkeypatch.setenv("AIRFLOW__TRACES__OTEL_SSL_ACTIVE", "True")
    assert traces_endpoint() == "https://collector.internal:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318")
    assert traces_endpoint() is None  # the exporter reads the standard variable itself


def test_a_trace_content_that_is_not_a_boolean_fails_the_task_while_tracing_is_off(
    llm_conn, model_server, tmp_path, monkeypatch
):
    # It passed unseen while tracing was off, and failed every agent task the day it was turned on.
    monkeypatch.setenv("AIRFLOW__TRACES__OTEL_ON", "False")
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__TRACE_CONTENT", "maybe")
    script_a_tool_run(model_server)
    failures: list[str] = []
    dag = build_dag(
        "agent_trace_content_typo",
        llm_conn,
        tmp_path,
        retries=0,
        on_failure_callback=lambda context: failures.append(str(context["exception"])),
    )
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed"
    assert failures == ["[agentjobs] trace_content = 'maybe' is not a boolean; write True or False"]
    assert model_server.calls == 0  # refused before the first paid call

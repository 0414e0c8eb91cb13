"""example_taskflow_agent.py, as its DAG author sees it: @task.agentjobs with a pydantic answer
and two Python tools, run with dag.test() against the scripted model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.example_dags.conftest import example, states, tries
from tests.fakes.model_server import error, reply, respond, tool_call, tool_calls

pytestmark = pytest.mark.airflow

ANSWER = 'RESULT: {"invoice": "INV-1001", "open_eur": 1000, "action": "remind"}'


def the_dag():
    namespace = example("example_taskflow_agent")
    dag = namespace["example_taskflow_agent"]()  # the @dag function builds a fresh DAG
    dag.get_task("triage").retry_delay = timedelta(0)  # retries at once in a test
    return dag


def test_the_answer_is_the_tasks_xcom_and_the_tools_results_reached_the_model(default_llm, model_server):
    model_server.script(
        tool_calls([("invoice", {"number": "INV-1001"}), ("payments", {"number": "INV-1001"})]),
        reply(ANSWER, prompt_tokens=300, completion_tokens=20),
    )
    run = run_dag(the_dag(), logical_date=datetime(2026, 11, 2, tzinfo=UTC))
    assert states(run) == {"triage": "success", "report": "success"}
    # The XCom is the answer as the Triage model writes it, and the next task reads it as a dict.
    assert xcom(run, "triage") == {"invoice": "INV-1001", "open_eur": 1000.0, "action": "remind"}
    assert xcom(run, "report") == "INV-1001: remind (1000.00 EUR open)"
    first, second = model_server.requests
    assert "Triage invoice INV-1001" in first.body["messages"][-1]["content"]
    offered = {spec["function"]["name"]: spec["function"] for spec in first.body["tools"]}
    assert set(offered) == {"invoice", "payments"}  # no built-in the task did not name
    assert offered["payments"]["description"] == "The payments received for the invoice, as a JSON list."
    results = [m["content"] for m in second.body["messages"] if m["role"] == "tool"]
    assert json.loads(results[0])["customer"] == "Acme GmbH"
    assert json.loads(results[1]) == [{"amount_eur": 200.0, "on": "2026-11-20"}]
    assert xcom(run, "triage", key="usage")["iterations"] == 2


def test_a_cap_stops_the_agent_and_is_not_retried(default_llm, model_server):
    model_server.default_step = tool_call("invoice", {"number": "INV-1001"})
    run = run_dag(the_dag(), logical_date=datetime(2026, 11, 3, tzinfo=UTC))
    assert states(run) == {"triage": "failed", "report": "upstream_failed"}
    assert model_server.calls == 6  # the example's max_iterations
    assert tries(run, "triage") == 1  # retries=2, but a spent cap would only spend again
    assert (
        "BudgetExceeded: budget exceeded: max_iterations limit 6" in xcom(run, "triage", key="usage")["error"]
    )


def test_a_retry_replays_the_paid_calls_without_asking_the_model_again(default_llm, model_server):
    asked = {"n": 0}

    def model(request):
        asked["n"] += 1
        if asked["n"] == 2:
            return error(502, "bad gateway")  # the first try fails after one paid call
        looked_up = [m for m in request.body["messages"] if m["role"] == "tool"]
        if not looked_up:
            return tool_call("invoice", {"number": "INV-1001"}, prompt_tokens=100, completion_tokens=10)
        if len(looked_up) == 1:
            return tool_call("payments", {"number": "INV-1001"}, prompt_tokens=150, completion_tokens=10)
        return reply(ANSWER, prompt_tokens=200, completion_tokens=20)

    model_server.default_step = respond(model)
    run = run_dag(the_dag(), logical_date=datetime(2026, 11, 4, tzinfo=UTC))
    assert states(run)["triage"] == "success" and tries(run, "triage") == 2
    # Try 1: one paid call, then the 502. Try 2 replays the paid call and asks the other two:
    # 4 requests, not 5, and each call is counted once.
    assert model_server.calls == 4
    usage = xcom(run, "triage", key="usage")
    assert usage["iterations"] == 3 and usage["total_tokens"] == 110 + 160 + 220
    assert xcom(run, "triage")["action"] == "remind"


def test_an_answer_the_output_type_refuses_fails_loud_after_one_repair(default_llm, model_server):
    wrong = 'RESULT: {"invoice": "INV-1001", "open_eur": "lots", "action": "pay now"}'
    model_server.script(reply(wrong), reply(wrong))
    run = run_dag(the_dag(), logical_date=datetime(2026, 11, 5, tzinfo=UTC))
    assert states(run) == {"triage": "failed", "report": "upstream_failed"}
    assert model_server.calls == 2 and tries(run, "triage") == 1
    failure = xcom(run, "triage", key="usage")["error"]
    assert failure.startswith("ContractViolation") and "action" in failure and "open_eur" in failure
    # The repair turn told the model what was wrong.
    assert "broke the output contract" in model_server.requests[1].body["messages"][-1]["content"]

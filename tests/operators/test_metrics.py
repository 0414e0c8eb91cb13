"""Agent tasks report tokens, cost, iterations, budget stops and contract failures through
Airflow's metrics backend (here StatsD on loopback), tagged with the job, as the run recorded them."""

from __future__ import annotations

import pytest

from agentjobs.agent.errors import BudgetExceeded, ContractViolation, RateLimited, WaitRequested
from agentjobs.operators.metrics import outcome_of
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, tool_call
from tests.operators.test_agent import LOGICAL_DATE, build_dag, task_state

pytestmark = pytest.mark.airflow


def test_a_run_reports_its_tokens_cost_and_iterations_as_its_xcom_records_them(
    llm_conn,
    model_server,
    tmp_path,
    statsd_server,
):
    model_server.script(
        tool_call("write_file", {"path": "answer.txt", "content": "alpha\nbeta\n"}),
        reply('RESULT: {"path": "answer.txt", "items": 2}', prompt_tokens=200, completion_tokens=50),
    )
    run = run_dag(build_dag("metrics_ok", llm_conn, tmp_path), logical_date=LOGICAL_DATE)
    assert task_state(run) == "success"
    usage = xcom(run, "summarize")["usage"]
    statsd_server.settle()
    job = {"job": "metrics_ok", "task": "summarize"}
    assert statsd_server.total("airflow.agentjobs.agent_runs", outcome="success", **job) == 1
    assert statsd_server.total("airflow.agentjobs.iterations", **job) == usage["iterations"] == 2
    assert statsd_server.total("airflow.agentjobs.tokens", direction="in", **job) == usage["prompt_tokens"]
    assert (
        statsd_server.total("airflow.agentjobs.tokens", direction="out", **job) == usage["completion_tokens"]
    )
    assert statsd_server.total("airflow.agentjobs.cost_microusd", **job) == round(usage["cost_usd"] * 1e6)
    assert statsd_server.metrics("airflow.agentjobs.budget_stops") == []


def test_a_budget_stop_is_counted_with_the_cap_that_stopped_it(
    llm_conn,
    model_server,
    tmp_path,
    statsd_server,
):
    model_server.default_step = tool_call("list_files", {}, prompt_tokens=10, completion_tokens=10)
    run = run_dag(
        build_dag("metrics_budget", llm_conn, tmp_path, caps={"max_iterations": 2}), logical_date=LOGICAL_DATE
    )
    assert task_state(run) == "failed"
    statsd_server.settle()
    job = {"job": "metrics_budget", "task": "summarize"}
    assert statsd_server.total("airflow.agentjobs.budget_stops", cap="max_iterations", **job) == 1
    assert statsd_server.total("airflow.agentjobs.agent_runs", outcome="budget_stop", **job) == 1
    # The tokens the stopped run spent are counted too: a budget stop is not free.
    assert statsd_server.total("airflow.agentjobs.tokens", direction="in", **job) == 20


def test_a_contract_failure_is_counted(llm_conn, model_server, tmp_path, statsd_server):
    model_server.script(reply("I wrote it."), reply("Still no result line."))
    run = run_dag(build_dag("metrics_contract", llm_conn, tmp_path), logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed"
    statsd_server.settle()
    job = {"job": "metrics_contract", "task": "summarize"}
    assert statsd_server.total("airflow.agentjobs.contract_failures", **job) == 1
    assert statsd_server.total("airflow.agentjobs.agent_runs", outcome="contract_failure", **job) == 1


def test_a_failover_is_counted_with_where_it_went_and_why(
    llm_conn, model_server, backup_llm, tmp_path, statsd_server
):
    from tests.airflow.conftest import BACKUP_LLM_CONN_ID
    from tests.fakes.model_server import error

    model_server.script(error(502))
    backup_llm.script(reply('RESULT: {"path": "answer.txt", "items": 1}'))
    dag = build_dag("metrics_failover", llm_conn, tmp_path, fallback_conn_ids=[BACKUP_LLM_CONN_ID])
    assert task_state(run_dag(dag, logical_date=LOGICAL_DATE)) == "success"
    statsd_server.settle()
    moved = {"from": llm_conn, "to": BACKUP_LLM_CONN_ID, "reason": "server_error"}
    assert statsd_server.total("airflow.agentjobs.failovers", job="metrics_failover", **moved) == 1


def test_a_tries_outcome_is_read_from_what_ended_it():
    assert outcome_of(BudgetExceeded("max_cost_usd", 0.5, 0.6)) == ("budget_stop", "max_cost_usd")
    assert outcome_of(ContractViolation("items missing")) == ("contract_failure", None)
    assert outcome_of(WaitRequested(30.0, "the rate limiter")) == ("deferred", None)
    assert outcome_of(RateLimited("429")) == ("error", None)
    assert outcome_of(KeyboardInterrupt()) == ("error", None)

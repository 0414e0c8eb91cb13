"""AgentOperator's LLM connection: templated per run, read and parsed once per task."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.connection_reads import count_connection_reads
from tests.fakes.model_server import ScriptedModelServer, reply, tool_call

pytestmark = pytest.mark.airflow

LOGICAL_DATE = datetime(2026, 11, 24, tzinfo=UTC)
RESULT = 'RESULT: {"path": "answer.txt", "items": 1}'


@pytest.fixture
def other_llm_conn(monkeypatch, airflow_db) -> Iterator[tuple[str, ScriptedModelServer]]:
    """A second agentjobs_llm connection, on a scripted server of its own."""
    conn_id = "agentjobs_llm_other"
    with ScriptedModelServer() as server:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            json.dumps(
                {"conn_type": "agentjobs_llm", "host": server.base_url, "extra": {"model": "other-model"}}
            ),
        )
        yield conn_id, server


def agent_dag(dag_id: str, tmp_path: Path, llm_conn_id: str, **dag_kwargs):
    from airflow.sdk import DAG

    from agentjobs.operators.agent import AgentOperator

    with DAG(dag_id, schedule=None, start_date=LOGICAL_DATE, catchup=False, **dag_kwargs) as dag:
        AgentOperator(
            task_id="summarize",
            skill="echo",
            prompt="alpha",
            llm_conn_id=llm_conn_id,
            work_dir=str(tmp_path / "{{ run_id }}"),
            caps={"max_cost_usd": None},  # the other connection has no prices
            retries=0,
        )
    return dag


def test_llm_conn_id_is_rendered_from_the_params_and_the_runs_conf(
    llm_conn, model_server, other_llm_conn, tmp_path
):
    other_conn, other_server = other_llm_conn
    dag = agent_dag("agent_conn_param", tmp_path, "{{ params.llm }}", params={"llm": other_conn})

    other_server.script(reply(RESULT))
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    # The param's default picked the other connection: its server answered, its model is named.
    assert other_server.calls == 1 and model_server.calls == 0
    assert xcom(run, "summarize")["model"] == "scripted"
    assert other_server.requests[0].body["model"] == "other-model"

    model_server.script(reply(RESULT))
    run = run_dag(dag, logical_date=datetime(2026, 11, 25, tzinfo=UTC), run_conf={"llm": llm_conn})
    # A triggered run's conf chose the test connection: only its server was called.
    assert model_server.calls == 1 and other_server.calls == 1
    assert model_server.requests[0].body["model"] == "scripted-model"
    assert xcom(run, "summarize")["result"] == {"path": "answer.txt", "items": 1}


def test_the_task_reads_its_llm_connection_once(llm_conn, model_server, tmp_path, monkeypatch):
    read = count_connection_reads(monkeypatch)  # every read in the task, whoever asks
    model_server.script(tool_call("list_files", {}), tool_call("list_files", {}), reply(RESULT))
    run = run_dag(agent_dag("agent_conn_once", tmp_path, llm_conn), logical_date=LOGICAL_DATE)
    assert xcom(run, "summarize")["usage"]["iterations"] == 3
    assert read[llm_conn] == 1

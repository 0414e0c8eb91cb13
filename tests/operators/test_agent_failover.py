"""AgentOperator with fallback_conn_ids, run through dag.test() against loopback endpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.airflow.conftest import BACKUP_LLM_CONN_ID as BACKUP
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import error, reply, tool_call

pytestmark = pytest.mark.airflow

LOGICAL_DATE = datetime(2026, 11, 24, tzinfo=UTC)
FINAL = 'RESULT: {"path": "answer.txt", "items": 1}'


def build_dag(dag_id: str, conn_id: str, tmp_path: Path, **operator_kwargs):
    from airflow.sdk import DAG

    from agentjobs.operators.agent import AgentOperator

    with DAG(dag_id, schedule=None, start_date=LOGICAL_DATE, catchup=False) as dag:
        AgentOperator(
            task_id="summarize",
            skill="echo",
            prompt="alpha",
            llm_conn_id=conn_id,
            fallback_conn_ids=[BACKUP],
            work_dir=str(tmp_path / "{{ dag.dag_id }}" / "{{ ds }}"),
            **operator_kwargs,
        )
    return dag


def state(dag_run) -> str:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}["summarize"]


def transcript_events(tmp_path: Path, dag_id: str) -> list[dict]:
    path = tmp_path / dag_id / "2026-11-24" / "transcript.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_503_primary_fails_over_and_xcom_names_who_answered_and_why(
    llm_conn, model_server, backup_llm, tmp_path
):
    model_server.script(error(503, "primary overloaded"))
    backup_llm.script(reply(FINAL, prompt_tokens=100, completion_tokens=10, model="backup-model"))
    run = run_dag(build_dag("failover_ok", llm_conn, tmp_path), logical_date=LOGICAL_DATE)
    assert state(run) == "success"
    pushed = xcom(run, "summarize")
    assert pushed["model"] == "backup-model"
    usage = pushed["usage"]
    assert usage["answered_by"] == BACKUP
    [move] = usage["failovers"]
    assert move["from"] == llm_conn and move["to"] == BACKUP and move["model"] == "backup-model"
    assert move["reason"].startswith("server_error: HTTP 503") and "overloaded" in move["reason"]
    # One budget, the answer priced with the backup's prices, not the primary's.
    assert usage["iterations"] == 1
    assert usage["cost_usd"] == pytest.approx((100 * 10.0 + 10 * 40.0) / 1e6)
    failovers = [e for e in transcript_events(tmp_path, "failover_ok") if e["event"] == "failover"]
    assert [(e["from"], e["to"]) for e in failovers] == [(llm_conn, BACKUP)]


def test_a_refused_key_does_not_move_to_the_fallback(llm_conn, model_server, backup_llm, tmp_path):
    model_server.script(error(401, "invalid key"))
    run = run_dag(build_dag("failover_401", llm_conn, tmp_path, retries=2), logical_date=LOGICAL_DATE)
    assert state(run) == "failed"
    assert backup_llm.calls == 0
    pushed = xcom(run, "summarize", key="usage")
    assert "401" in pushed["error"] and pushed["usage"]["failovers"] == []


def test_a_retry_replays_what_the_fallback_answered_without_a_new_call(
    llm_conn, model_server, backup_llm, tmp_path
):
    work = tmp_path / "failover_replay" / "2026-11-24"
    work.mkdir(parents=True)
    (work / "notes.txt").write_text("alpha")
    # Try 1: the primary is down, the backup answers the first call, then fails the second too.
    # Try 2 starts at the primary again: the first call replays the backup's answer (no call),
    # and the primary, back up, answers the second.
    model_server.script(error(503), reply(FINAL, prompt_tokens=50, completion_tokens=5))
    backup_llm.script(
        tool_call("read_file", {"path": "notes.txt"}, prompt_tokens=100, completion_tokens=10), error(500)
    )
    dag = build_dag("failover_replay", llm_conn, tmp_path, retries=1, retry_delay=timedelta(0))
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert state(run) == "success"
    assert backup_llm.calls == 2 and model_server.calls == 2
    usage = xcom(run, "summarize")["usage"]
    assert usage["iterations"] == 2  # the backup's paid answer counted once
    assert usage["cost_usd"] == pytest.approx((100 * 10.0 + 10 * 40.0 + 50 * 1.0 + 5 * 4.0) / 1e6)
    assert usage["answered_by"] == llm_conn and usage["failovers"] == []
    replayed = [e for e in transcript_events(tmp_path, "failover_replay") if e["event"] == "replayed"]
    assert len(replayed) == 1


def test_fallback_conn_ids_is_a_list_not_one_id(llm_conn, tmp_path):
    from agentjobs.operators.agent import AgentOperator

    with pytest.raises(TypeError, match=r"list of LLM connection ids, e.g. \['agentjobs_llm_backup'\]"):
        AgentOperator(task_id="t", skill="echo", prompt="p", fallback_conn_ids=BACKUP)

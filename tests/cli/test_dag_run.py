"""The job's DAG made ready for the command's one run: its LLM pool created (said once), and every
task's failure but the run alert's collected as "task: Error: message" for the one line printed,
beside the DAG's own failure callback (the run log the alert reads its reasons from)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from agentjobs.cli.dag_run import prepared_dag
from tests.jobs.specs import digest_spec

pytestmark = pytest.mark.airflow


def test_the_pool_is_made_once_and_failures_are_collected_but_the_alerts(airflow_db, capsys):
    from airflow.models.pool import Pool

    from agentjobs.operators.run_alert import ALERT_TASK_ID
    from agentjobs.operators.run_log import RecordFailure

    pool = f"agentjobs_cli_{uuid.uuid4().hex[:8]}"
    spec = digest_spec(
        "cli_dag_run",
        "llm_test",
        sources={"rss": {"feeds": ["feed.xml"]}},
        pool=pool,
        alert={"type": "webhook", "conn_id": "pager", "endpoint": "/page"},
    )
    dag, failures = prepared_dag(spec)
    assert capsys.readouterr().out == (
        f"agentjobs: created the Airflow pool {pool!r} (1 slot) for model calls\n"
    )
    assert Pool.get_pool(pool).slots == 1
    prepared_dag(spec)  # a second run of the command: the pool is there, nothing said
    assert capsys.readouterr().out == ""

    alert = dag.get_task(ALERT_TASK_ID)
    assert not alert.on_failure_callback  # it fails only to mark the run failed: not the reason
    summarize = dag.get_task("summarize")
    record, remember = summarize.on_failure_callback
    # The DAG's own callback stays: it writes the reason to the run log the alert task reads.
    assert isinstance(record, RecordFailure) and record.job == spec.dag_id
    remember({"ti": SimpleNamespace(task_id="summarize"), "exception": ValueError("HTTP 401 from the model")})
    remember({"ti": SimpleNamespace(task_id="validate")})  # failed with no exception at hand
    assert failures == ["summarize: ValueError: HTTP 401 from the model", "validate"]
    others = [t for t in dag.tasks if t.task_id != ALERT_TASK_ID]
    assert all(t.on_failure_callback[-1] is remember for t in others)
    assert all(isinstance(t.on_failure_callback[0], RecordFailure) for t in others)

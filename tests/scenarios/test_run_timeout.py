"""A run stopped by its `dagrun_timeout` pages the alert channel.

What Airflow 3.3 does at the timeout (airflow/jobs/scheduler_job_runner.py, the
`dag.dagrun_timeout` branch of `_schedule_dag_run`): it fails the run, marks every
unfinished task *skipped* (so no task failure callback runs) and hands the DAG processor a
`DagCallbackRequest` built by `DagRun.produce_dag_callback(success=False,
relevant_ti=<the last unfinished task>, reason="timed_out")`; the processor's
`_execute_dag_callbacks` then calls the DAG's `on_failure_callback`s with that reason. The
test runs those two Airflow functions in-process on a real run, rather than waiting out a
timeout (ten minutes at least) under the real scheduler.
"""

from __future__ import annotations

import email
import email.policy
from types import SimpleNamespace

import pytest

from tests.airflow.conftest import run_dag
from tests.fakes.model_server import respond
from tests.jobs.specs import digest_spec
from tests.scenarios.digest_job import LOGICAL, make_repo, pick_first_refs, states

pytestmark = pytest.mark.airflow

ONCALL = "oncall@example.org"


def time_out(dag, run, task_id: str, reason: str = "timed_out") -> None:
    """What the scheduler does to a run past its dagrun_timeout, then what the DAG processor does."""
    import structlog
    from airflow.dag_processing.processor import _execute_dag_callbacks
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    with create_session() as session:
        dag_run = session.query(DagRun).filter_by(dag_id=run.dag_id, run_id=run.run_id).one()
        dag_run.set_state(DagRunState.FAILED)
        ti = session.query(TaskInstance).filter_by(dag_id=run.dag_id, run_id=run.run_id, task_id=task_id)
        ti = ti.one()
        ti.state = TaskInstanceState.SKIPPED
        # A DAG built in the test has no file; the processor would find it in the jobs DAG file.
        dag_run.dag_model.relative_fileloc = "agentjobs_jobs.py"
        session.flush()
        request = dag_run.produce_dag_callback(
            dag=dag, success=False, relevant_ti=ti, reason=reason, execute=False
        )
    # The DAG processor parses the DAG file again; the DAG built from the same spec stands in.
    _execute_dag_callbacks(SimpleNamespace(dags={dag.dag_id: dag}), request, structlog.get_logger())


@pytest.fixture
def timed_job(tmp_path, llm_conn, model_server, smtp_server):
    repo = make_repo(tmp_path / "repo", [("2026-11-24T09:00:00+00:00", "Add the fetch step")])
    model_server.default_step = respond(pick_first_refs)
    return digest_spec(
        "digest_timeout",
        llm_conn,
        retries=0,
        sources={"git": {"repos": [str(repo)]}},
        alert={"type": "email", "conn_id": smtp_server.conn_id, "to": [ONCALL]},
    )


def test_a_run_stopped_by_its_dagrun_timeout_pages_the_alert_channel_once(timed_job, smtp_server):
    from agentjobs.hooks.ledger import run_log
    from agentjobs.operators.factory import build_dag

    dag = build_dag(timed_job)
    assert dag.dagrun_timeout.total_seconds() == 55 * 60  # 3 * timeout_s 900 + 600
    run = run_dag(dag, logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    assert smtp_server.messages == []

    time_out(dag, run, "summarize")

    (mail,) = smtp_server.messages
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert mail.rcpt_tos == [ONCALL]
    subject = str(message["Subject"]).strip()
    assert subject == f"[agentjobs] {timed_job.dag_id} 2026-11-25T03:00:00+00:00: timed out"
    body = message.get_body(("plain",)).get_content()
    assert "stopped by its dagrun_timeout (55 minutes after it started)" in body, body
    assert "while `summarize` was running" in body and "covering 2026-11-24" in body, body
    assert f"Run: {run.run_id}" in body, body
    # The health check counts it as a failed run.
    (latest, *_) = run_log(None).recent(timed_job.dag_id)
    assert latest["outcome"] == "failure" and "timed out" in latest["detail"], latest


def test_a_run_failed_by_a_task_is_not_paged_again_by_the_dag(timed_job, smtp_server):
    from agentjobs.operators.factory import build_dag

    dag = build_dag(timed_job)
    run = run_dag(dag, logical_date=LOGICAL)
    # The failing task already sent its own alert; the DAG's callback stays quiet.
    time_out(dag, run, "summarize", reason="task_failure")
    assert smtp_server.messages == []

"""Nobody watches a run: a late run pages the alert channel, and the LLM pool holds a
backfill to one model call at a time. Both under the real scheduler and triggerer.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.fakes.model_server import respond, slow
from tests.scheduler.conftest import SchedulerServices, answer_structured
from tests.scheduler.harness import AirflowCluster, poll
from tests.scheduler.jobs import ONCALL, TODAY, alert_emails, job_spec, logical_date_of, make_sources

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(480)]

TEST_POOL = "agentjobs_llm_test"
# The deadline is whole minutes (`deadline_minutes`, gt=0): the one model call outlasts it.
DEADLINE_MINUTES = 1
SLOW_CALL_S = 64
POOL_CALL_S = 3


def test_a_run_past_its_deadline_pages_the_alert_channel(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    services, api = scheduler_services, airflow_cluster.api
    day = TODAY - timedelta(days=2)
    suffix = uuid.uuid4().hex[:8]
    # The session's LLM connection times a call out after 30 s; this job's waits longer.
    slow_conn_id = f"agentjobs_llm_slow_{suffix}"
    base = services.connections[services.llm_conn_id]
    api.create_connection(slow_conn_id, {**base, "extra": {**base["extra"], "timeout": SLOW_CALL_S + 60}})
    spec = job_spec(f"sched_late_{suffix}", services, make_sources(tmp_path, [day]), day, slow_conn_id)
    spec["deadline_minutes"] = DEADLINE_MINUTES
    dag_id = airflow_cluster.add_job(spec)
    services.reset_model()
    try:
        services.model.script(slow(SLOW_CALL_S, respond(answer_structured)))
        with airflow_cluster.timed("new job parsed (late)"):
            api.wait_for_dag(dag_id)
        run = api.trigger(dag_id, logical_date=logical_date_of(day))
        run_id = run["dag_run_id"]
        with airflow_cluster.timed("late run: deadline alert"):
            late = poll(
                lambda: [m for m in alert_emails(services, dag_id) if "late" in str(m[0]["Subject"])],
                timeout=DEADLINE_MINUTES * 60 + 45,
                what=f"the deadline alert of {dag_id}",
            )
        paged_at = datetime.now(UTC)
        state_when_paged = api.dag_run(dag_id, run_id)["state"]
        with airflow_cluster.timed("late run: finish"):
            (finished,) = api.wait_for_runs(dag_id, [run_id], timeout=SLOW_CALL_S + 60)
    finally:
        services.reset_model()

    # Paged while the run was still going (the model call outlasts the deadline) ...
    assert state_when_paged == "running", state_when_paged
    queued_at = datetime.fromisoformat(finished["queued_at"])
    assert paged_at - queued_at >= timedelta(minutes=DEADLINE_MINUTES), (queued_at, paged_at)
    # ... once, to the alert channel's recipients, naming the job, the day and the run.
    assert len(late) == 1, [str(m["Subject"]) for m, _ in late]
    message, envelope = late[0]
    subject = str(message["Subject"])
    assert subject.startswith(f"[agentjobs] {dag_id} ") and subject.endswith(": late"), subject
    assert envelope.rcpt_tos == [ONCALL]
    body = message.get_body(("plain",)).get_content()
    # The deadline alert gets no task; it names the job by its title, the run (the callback's
    # dag_run is a dict keyed `dag_run_id`) and the day the run covers.
    assert spec["title"] in body, body
    assert f"within {DEADLINE_MINUTES} minutes of being queued" in body, body
    assert f"Run: {run_id}" in body, body
    assert f"covering {day}" in body, body
    # The run itself succeeded, so nothing else was sent: no failure alert.
    assert len(alert_emails(services, dag_id)) == 1
    assert api.task_states(dag_id, run_id)["summarize"] == "success"
    # The miss was recorded against this run and its callback ran in the triggerer: our
    # notifier by dotted path (AsyncCallback → JobAlertNotifier.async_notify), to success.
    row = poll(
        lambda: _deadline_row(airflow_cluster, dag_id, run_id, wanted_state="success"),
        timeout=15,
        what=f"the deadline callback of {run_id} to succeed",
    )
    missed, deadline_time, _state, data = row
    assert missed is True
    assert abs(deadline_time - (queued_at + timedelta(minutes=DEADLINE_MINUTES))) < timedelta(seconds=1)
    assert paged_at >= deadline_time
    assert "agentjobs.notifications.alert.JobAlertNotifier" in data, data
    triggerer_log = airflow_cluster.process_log("triggerer").read_text(errors="replace")
    assert "CallbackState.SUCCESS" in triggerer_log, airflow_cluster.log_tail("triggerer")


def _deadline_row(cluster: AirflowCluster, dag_id: str, run_id: str, *, wanted_state: str) -> Any:
    """(missed, deadline_time, callback state, callback data) of the run's deadline."""
    engine = sa.create_engine(cluster.sql_alchemy_conn)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select d.missed, d.deadline_time, c.state, cast(c.data as text) "
                    "from deadline d join dag_run r on r.id = d.dagrun_id "
                    "join callback c on c.id = d.callback_id "
                    "where r.dag_id = :dag_id and r.run_id = :run_id"
                ),
                {"dag_id": dag_id, "run_id": run_id},
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 1, rows
    return tuple(rows[0]) if rows[0][2] == wanted_state else None


def test_the_llm_pool_runs_one_model_call_at_a_time_across_a_backfill(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    services, api = scheduler_services, airflow_cluster.api
    days = [TODAY - timedelta(days=n) for n in (8, 7, 6)]
    suffix = uuid.uuid4().hex[:8]
    spec = job_spec(
        f"sched_pool_{suffix}", services, make_sources(tmp_path, days), days[0], services.llm_conn_id
    )
    spec["pool"] = TEST_POOL
    api.ensure_pool(TEST_POOL, 1, "one LLM call at a time")
    dag_id = airflow_cluster.add_job(spec)
    services.reset_model()
    try:
        services.model.default_step = slow(POOL_CALL_S, respond(answer_structured))
        with airflow_cluster.timed("new job parsed (pool)"):
            api.wait_for_dag(dag_id)
        # The backfill itself would run all three days at once (its limit, not the DAG's
        # max_active_runs=1): only the pool holds summarize to one at a time.
        backfill = api.create_backfill(
            dag_id, logical_date_of(days[0]), logical_date_of(days[-1]), max_active_runs=10
        )
        with airflow_cluster.timed("pool backfill of 3 days"):
            runs = api.wait_for_backfill(backfill, timeout=150)
        calls = services.model.calls
    finally:
        services.reset_model()

    assert len(runs) == len(days)
    assert calls == len(days)
    spans, pools = [], set()
    for run in runs:
        (ti,) = [ti for ti in api.task_instances(dag_id, run["dag_run_id"]) if ti["task_id"] == "summarize"]
        assert ti["state"] == "success", ti
        pools.add(ti["pool"])
        start, end = datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"])
        assert end - start >= timedelta(seconds=POOL_CALL_S), ti  # long enough to overlap if allowed
        spans.append((start, end, run["dag_run_id"]))
    spans.sort()
    for (_, earlier_end, earlier), (later_start, _, later) in itertools.pairwise(spans):
        assert later_start >= earlier_end, f"summarize of {later} started before {earlier}'s ended: {spans}"
    assert pools == {TEST_POOL}
    # The runs themselves did overlap: the backfill started them together.
    run_spans = [
        (datetime.fromisoformat(r["start_date"]), datetime.fromisoformat(r["end_date"])) for r in runs
    ]
    assert max(s for s, _ in run_spans) < min(e for _, e in run_spans), run_spans

"""The job-health check under the real scheduler: a job that keeps failing and a job that has
not succeeded for 1.5 intervals page their alert channel, once a day; a healthy job does not.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agentjobs.operators.factory import HEALTH_DAG_ID
from tests.fakes.model_server import error, respond
from tests.scheduler.conftest import SchedulerServices, answer_structured
from tests.scheduler.harness import AirflowCluster
from tests.scheduler.jobs import (
    TODAY,
    alert_emails,
    body_of,
    job_spec,
    logical_date_of,
    make_sources,
    unique_id,
)

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(300)]


def _subjects(services: SchedulerServices, dag_id: str) -> list[str]:
    return sorted(str(m["Subject"]) for m, _ in alert_emails(services, dag_id))


def test_failing_and_stale_jobs_page_once_a_day_and_healthy_ones_do_not(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    services, api = scheduler_services, airflow_cluster.api
    day = TODAY - timedelta(days=2)
    sources = make_sources(tmp_path, [day])
    # Started yesterday and failing in both its runs, which digest the day before yesterday
    # (at 03:00 and, triggered again, at 04:00).
    failing = job_spec(unique_id("sched_failing"), services, sources, day, retry_delay_s=2)
    failing["start_date"] = (TODAY - timedelta(days=1)).isoformat()
    failing_runs_at = [logical_date_of(day), logical_date_of(day) + timedelta(hours=1)]
    # Scheduled daily since a month ago, never succeeded: stale.
    stale = job_spec(unique_id("sched_stale"), services, sources, TODAY - timedelta(days=20))
    # Succeeded a minute ago.
    healthy = job_spec(unique_id("sched_healthy"), services, sources, day)
    for spec in (failing, stale, healthy):
        airflow_cluster.add_job(spec)
    services.reset_model()
    try:
        for spec in (failing, stale, healthy):
            api.wait_for_dag(spec["dag_id"])
        services.model.script(
            error(401, "Incorrect API key provided"), error(401, "Incorrect API key provided")
        )
        runs = [api.trigger(failing["dag_id"], logical_date=at)["dag_run_id"] for at in failing_runs_at]
        api.wait_for_runs(failing["dag_id"], runs, timeout=150, expect="failed")
        services.model.default_step = respond(answer_structured)
        ok = api.trigger(healthy["dag_id"], logical_date=logical_date_of(day))["dag_run_id"]
        api.wait_for_runs(healthy["dag_id"], [ok], timeout=120)
    finally:
        services.reset_model()
    failure_alerts = _subjects(services, failing["dag_id"])
    assert len(failure_alerts) == 2 and all(s.endswith("summarize failed") for s in failure_alerts)

    with airflow_cluster.timed("health check"):
        check = api.trigger(HEALTH_DAG_ID, logical_date=None)["dag_run_id"]
        api.wait_for_runs(HEALTH_DAG_ID, [check], timeout=120)
    found = {(p["job"], p["kind"]): p for p in api.xcom(HEALTH_DAG_ID, check, "check_jobs")}

    assert found[(failing["dag_id"], "failing")]["alerted"] == "alerted"
    assert found[(stale["dag_id"], "stale")]["alerted"] == "alerted"
    assert not [key for key in found if key[0] == healthy["dag_id"]]
    (failing_alert,) = [
        m for m, _ in alert_emails(services, failing["dag_id"]) if str(m["Subject"]).endswith(": failing")
    ]
    assert str(failing_alert["Subject"]).strip() == f"[agentjobs] {failing['dag_id']}: failing"
    assert "failed in 2 runs since its last success" in body_of(failing_alert)
    (stale_alert,) = [m for m, _ in alert_emails(services, stale["dag_id"])]
    assert str(stale_alert["Subject"]).strip() == f"[agentjobs] {stale['dag_id']}: stale"
    assert "has never succeeded" in body_of(stale_alert)
    assert _subjects(services, healthy["dag_id"]) == []

    # The hourly check runs again: the same problems, no second page the same day.
    before = len(services.smtp.messages)
    again = api.trigger(HEALTH_DAG_ID, logical_date=None)["dag_run_id"]
    api.wait_for_runs(HEALTH_DAG_ID, [again], timeout=120)
    repeated = {(p["job"], p["kind"]): p["alerted"] for p in api.xcom(HEALTH_DAG_ID, again, "check_jobs")}
    assert repeated[(failing["dag_id"], "failing")] == "already alerted today"
    assert repeated[(stale["dag_id"], "stale")] == "already alerted today"
    assert len(services.smtp.messages) == before

"""Job health across runs: stale jobs and repeated failures page someone, once a day."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from agentjobs.hooks.ledger import run_log
from agentjobs.jobs.health import JobRunLog, check_job, job_interval
from agentjobs.jobs.spec import JobSpec
from tests.airflow.conftest import run_dag, xcom

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def spec(**extra) -> JobSpec:
    data = {
        "dag_id": "team_digest",
        "title": "Team digest",
        "start_date": "2026-11-01",
        "skill": "daily-digest",
        "timezone": "UTC",
        "sources": {"rss": {"feeds": ["feed.xml"]}},
        **extra,
    }
    return JobSpec.model_validate(data)


@pytest.fixture
def log(tmp_path) -> JobRunLog:
    return JobRunLog(sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))


def test_the_interval_comes_from_the_schedule():
    assert job_interval(spec()) == timedelta(days=1)
    assert job_interval(spec(schedule="0 6 * * 1")) == timedelta(days=7)


def test_a_recent_success_is_healthy(log):
    log.record("team_digest", "r1", "success", at=NOW - timedelta(hours=30))
    assert check_job(spec(), log, NOW) == []


def test_a_success_older_than_one_and_a_half_intervals_is_stale(log):
    log.record("team_digest", "r1", "success", at=NOW - timedelta(hours=37))
    (problem,) = check_job(spec(), log, NOW)
    assert problem.kind == "stale" and "last succeeded 2026-11-23 23:00" in problem.message


def test_a_job_that_never_succeeded_is_judged_from_its_start_date(log):
    assert check_job(spec(start_date="2026-11-25"), log, NOW) == []
    assert [p.kind for p in check_job(spec(start_date="2026-11-20"), log, NOW)] == ["stale"]


def test_two_failed_runs_since_the_last_success_are_failing(log):
    log.record("team_digest", "r1", "success", at=NOW - timedelta(hours=5))
    log.record("team_digest", "r2", "failure", at=NOW - timedelta(hours=4))
    assert check_job(spec(), log, NOW) == []
    log.record("team_digest", "r2", "failure", at=NOW - timedelta(hours=4))  # two tasks of one run
    assert check_job(spec(), log, NOW) == []
    log.record("team_digest", "r3", "failure", at=NOW - timedelta(hours=3))
    assert [p.kind for p in check_job(spec(), log, NOW)] == ["failing"]
    log.record("team_digest", "r4", "success", at=NOW - timedelta(hours=1))
    assert check_job(spec(), log, NOW) == []


@pytest.mark.airflow
def test_the_health_dag_alerts_once_a_day_per_problem(airflow_db, smtp_server, tmp_path, monkeypatch):
    from agentjobs.operators.factory import health_dag

    ledger = tmp_path / "ledger.db"
    monkeypatch.setenv("AIRFLOW_CONN_HEALTH_LEDGER", json.dumps({"conn_type": "sqlite", "host": str(ledger)}))
    alert = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    stale = spec(dag_id="stale_job", start_date="2026-01-01", alert=alert, ledger_conn_id="health_ledger")
    quiet = spec(
        dag_id="quiet_job", start_date="2026-01-01", ledger_conn_id="health_ledger"
    )  # no alert channel
    run_log("health_ledger").record("stale_job", "old", "success", at=NOW - timedelta(days=40))
    dag = health_dag([stale, quiet])

    run = run_dag(dag, logical_date=NOW)
    found = {(p["job"], p["kind"]): p["alerted"] for p in xcom(run, "check_jobs")}
    assert found == {("stale_job", "stale"): "alerted", ("quiet_job", "stale"): "no alert channel"}
    (mail,) = smtp_server.messages
    assert b"stale_job" in mail.content

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()
    run = run_dag(dag, logical_date=NOW + timedelta(hours=1))
    assert xcom(run, "check_jobs")[0]["alerted"] == "already alerted today"
    assert len(smtp_server.messages) == 1


def broken_folder(tmp_path, alert: dict | None, healthy_alert: dict | None):
    """A jobs folder holding one good spec and one whose title is missing; load_folder's answer."""
    import yaml

    from agentjobs.jobs.spec import load_folder

    folder = tmp_path / "jobs"
    folder.mkdir()
    good = {
        "dag_id": "good_job",
        "title": "Good",
        "start_date": datetime.now(UTC).date().isoformat(),  # not stale: the check runs at the real now
        "skill": "daily-digest",
        "sources": {"rss": {"feeds": ["feed.xml"]}},
        "ledger_conn_id": "health_ledger",
        **({"alert": healthy_alert} if healthy_alert else {}),
    }
    bad = {k: v for k, v in good.items() if k not in ("title", "alert")}
    bad = {**bad, "dag_id": "bad_job", **({"alert": alert} if alert else {})}
    (folder / "a-good.yaml").write_text(yaml.safe_dump(good))
    (folder / "b-bad.yaml").write_text(yaml.safe_dump(bad))
    loaded, broken = load_folder(folder)
    return list(loaded.values()), broken


@pytest.mark.airflow
def test_the_health_dag_names_a_broken_spec_in_its_alert_once_a_day_and_fails(
    airflow_db, smtp_server, tmp_path, monkeypatch
):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from agentjobs.operators.factory import health_dag

    monkeypatch.setenv(
        "AIRFLOW_CONN_HEALTH_LEDGER", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    )
    alert = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    specs, broken = broken_folder(tmp_path, alert=alert, healthy_alert=None)
    assert [b.job for b in broken] == ["bad_job"] and broken[0].alert is not None
    dag = health_dag(specs, broken)

    run = run_dag(dag, logical_date=NOW)
    assert run.state == "failed"  # red in the UI until the spec is fixed
    (mail,) = smtp_server.messages
    assert b"b-bad.yaml" in mail.content and b"field 'title'" in mail.content and b"bad_job" in mail.content

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()
    assert run_dag(dag, logical_date=NOW + timedelta(hours=1)).state == "failed"
    assert len(smtp_server.messages) == 1  # the ledger: once a day


@pytest.mark.airflow
def test_a_broken_spec_without_a_readable_alert_channel_alerts_the_other_jobs_channel(
    airflow_db, smtp_server, tmp_path, monkeypatch
):
    from agentjobs.operators.factory import health_dag

    monkeypatch.setenv(
        "AIRFLOW_CONN_HEALTH_LEDGER", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    )
    healthy = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["team@example.org"]}
    specs, broken = broken_folder(tmp_path, alert=None, healthy_alert=healthy)
    assert broken[0].alert is None

    run = run_dag(health_dag(specs, broken), logical_date=NOW)
    assert run.state == "failed"
    (mail,) = smtp_server.messages
    assert mail.rcpt_tos == ["team@example.org"] and b"b-bad.yaml" in mail.content


def test_job_health_says_when_the_next_run_is_due_since_when_it_is_overdue_and_the_streak(log):
    from agentjobs.jobs.health import job_health

    log.record("team_digest", "r1", "success", at=NOW - timedelta(hours=37))
    log.record("team_digest", "r2", "failure", at=NOW - timedelta(hours=2))
    log.record("team_digest", "r3", "failure", at=NOW - timedelta(hours=1))
    health = job_health(spec(), log, NOW)
    assert health.last_success == NOW - timedelta(hours=37)
    assert health.next_expected == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # the 03:00 cron, tomorrow
    assert health.overdue_since == NOW - timedelta(hours=1)  # 1.5 days after the last success
    assert health.failed_runs == 2 and health.failing
    # In the job's own time zone: 03:00 in Tokyo is 18:00 UTC the day before.
    assert job_health(spec(timezone="Asia/Tokyo"), log, NOW).next_expected == datetime(
        2026, 11, 25, 18, 0, tzinfo=UTC
    )

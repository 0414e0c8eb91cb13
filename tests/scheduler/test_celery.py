"""The compose topology as local processes: CeleryExecutor on a Redis broker, two Celery workers,
the api-server, scheduler, dag-processor and triggerer on a PostgreSQL metadata DB.

The daily digest runs through the workers (both take tasks), so do weekly_insights' per-team
mapped task groups for three teams, each target delivered once, and a worker killed with SIGKILL
while it runs the model call loses no run and delivers nothing twice: the scheduler fails the
orphaned try once its heartbeat times out, and the retry runs on the surviving worker.

One cluster for the module; the tests run in file order, each stating what it expects of the
whole history so far.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import pytest
import sqlalchemy as sa

from tests.fakes.model_server import respond
from tests.fakes.slack import SlackRequest
from tests.jobs.business import on_the_teams_clock, shipped_spec
from tests.scheduler.celery_cluster import CeleryCluster, RedisUnavailable, check_redis
from tests.scheduler.conftest import (
    HeldModelCall,
    SchedulerServices,
    require_postgres,
    running_cluster,
    services_required,
    top_three_from_the_data,
)
from tests.scheduler.harness import AirflowApi, create_database, drop_database, poll
from tests.scheduler.jobs import TODAY, job_spec, logical_date_of, make_sources

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(480)]

REDIS_DB = 14  # this module's broker database: no other test uses it
HEARTBEAT_TIMEOUT_S = 15
RETRY_DELAY_S = 2
BACKFILL_DAYS = [TODAY - timedelta(days=n) for n in (6, 5, 4)]
KILL_DAY = TODAY - timedelta(days=2)
# alert_on_failure is every run's last task: it runs (all_done) and succeeds when nothing failed.
TASKS = {"fetch_git", "fetch_rss", "summarize", "validate", "deliver_slack_0", "alert_on_failure"}
SLACK_POST = "/api/chat.postMessage"


def require_redis() -> None:
    try:
        check_redis(REDIS_DB)
    except RedisUnavailable as exc:
        if services_required():
            pytest.fail(f"{exc} (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def celery_cluster(
    scheduler_services: SchedulerServices, request: pytest.FixtureRequest
) -> Iterator[CeleryCluster]:
    require_postgres()
    require_redis()
    db_name = f"celery_sched_{uuid.uuid4().hex[:10]}"
    try:
        with running_cluster(
            create_database(db_name),
            dict(scheduler_services.connections),
            request,
            CeleryCluster,
            redis_db=REDIS_DB,
            workers=2,
            worker_concurrency=2,
            heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
        ) as cluster:
            assert isinstance(cluster, CeleryCluster)
            yield cluster
    finally:
        drop_database(db_name)


@dataclass
class SlackDigest:
    dag_id: str
    title: str
    services: SchedulerServices

    def posts(self, day: date) -> list[SlackRequest]:
        heading = f"{self.title} — {day}"
        return [
            r
            for r in self.services.slack.requests
            if r.path == SLACK_POST and heading in str(r.params.get("text", ""))
        ]

    def ledger(self, day: date) -> list[tuple[str, int, str, str]]:
        """(channel, attempt, status, run_id) of the day's deliveries, straight from the table."""
        engine = sa.create_engine(self.services.ledger_url())
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "select channel, attempt, status, run_id from agentjobs_delivery "
                        "where job = :job and logical_date = :day order by channel, attempt"
                    ),
                    {"job": self.dag_id, "day": day.isoformat()},
                )
                return [tuple(row) for row in rows]
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def digest(
    celery_cluster: CeleryCluster,
    scheduler_services: SchedulerServices,
    tmp_path_factory: pytest.TempPathFactory,
) -> SlackDigest:
    services = scheduler_services
    sources = make_sources(tmp_path_factory.mktemp("celery-digest"), [*BACKFILL_DAYS, KILL_DAY])
    channel = {"type": "slack", "conn_id": services.slack_api_conn_id, "channel": "C0CELERY"}
    spec = job_spec(
        f"celery_digest_{uuid.uuid4().hex[:8]}",
        services,
        sources,
        BACKFILL_DAYS[0],
        channels=[channel],
        retry_delay_s=RETRY_DELAY_S,
    )
    services.reset_model()
    dag_id = celery_cluster.add_job(spec)
    with celery_cluster.timed("celery: new job parsed"):
        celery_cluster.api.wait_for_dag(dag_id)
    return SlackDigest(dag_id, spec["title"], services)


def hostnames(api: AirflowApi, dag_id: str, run_id: str) -> dict[str, str]:
    return {ti["task_id"]: ti["hostname"] for ti in api.task_instances(dag_id, run_id)}


def test_a_backfill_runs_through_both_workers_and_delivers_each_day_once(
    celery_cluster: CeleryCluster, digest: SlackDigest
) -> None:
    api = celery_cluster.api
    backfill = api.create_backfill(
        digest.dag_id,
        logical_date_of(BACKFILL_DAYS[0]),
        logical_date_of(BACKFILL_DAYS[-1]),
        max_active_runs=3,
    )
    with celery_cluster.timed("celery: backfill of 3 days"):
        runs = api.wait_for_backfill(backfill, timeout=240)

    assert len(runs) == len(BACKFILL_DAYS)
    ran_on: set[str] = set()
    for run in runs:
        run_id = run["dag_run_id"]
        states = api.task_states(digest.dag_id, run_id)
        assert set(states) == TASKS and set(states.values()) == {"success"}, states
        hosts = hostnames(api, digest.dag_id, run_id)
        # Every task ran on a Celery worker (its name is the task instance's hostname) ...
        assert set(hosts.values()) <= set(celery_cluster.worker_names), hosts
        ran_on |= set(hosts.values())
        day = datetime.fromisoformat(run["logical_date"]).date() - timedelta(days=1)
        # ... and each day was posted once and recorded once.
        assert len(digest.posts(day)) == 1, day
        assert digest.ledger(day) == [("slack", 1, "sent", run_id)]
    # The scheduler handed the fifteen tasks to both workers, not one.
    assert ran_on == set(celery_cluster.worker_names), ran_on
    assert digest.services.model.calls == len(BACKFILL_DAYS)


FAN_OUT_TEAMS = ("team-berlin", "team-london", "team-tokyo")


def test_b_a_fanned_out_job_serves_each_team_through_the_workers_once(
    celery_cluster: CeleryCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    from agentjobs.business.generate import generate
    from agentjobs.cli.run import serving_instant
    from agentjobs.jobs.kinds.registry import fan_out_kind
    from agentjobs.sources.sql import read_teams

    api, services = celery_cluster.api, scheduler_services
    business = tmp_path / "business.db"
    truth = generate(business)
    engine = sa.create_engine(f"sqlite:///{business}")
    try:
        teams = {team.id: (team, members) for team, members in read_teams(engine)}
    finally:
        engine.dispose()
    conn_id = f"celery_business_{uuid.uuid4().hex[:8]}"
    api.create_connection(conn_id, {"conn_type": "sqlite", "host": str(business)})
    delivery = {
        "slack_conn_id": services.slack_api_conn_id,
        "smtp_conn_id": services.smtp_conn_id,
        "member_preview": True,
    }
    spec = shipped_spec(
        "weekly-insights.yaml",
        services.llm_conn_id,
        conn_id,
        team_delivery=delivery,
        ledger_conn_id=services.ledger_conn_id,
    )
    kind, settings = fan_out_kind(spec.kind), spec.kind_settings()
    # Each team is served at 09:00 on its own Sunday: one hourly run a team.
    when = {t: serving_instant(kind, settings, teams[t][0], truth.last_day) for t in FAN_OUT_TEAMS}
    services.reset_model()
    # The SMTP and Slack fakes serve the whole session: count only what this test's runs send.
    mails_before, posts_before = len(services.smtp.messages), len(services.slack.requests)
    services.model.default_step = respond(top_three_from_the_data)
    try:
        dag_id = celery_cluster.add_job(spec.model_dump(mode="json"))
        api.wait_for_dag(dag_id)
        run_ids = {t: api.trigger(dag_id, logical_date=when[t])["dag_run_id"] for t in FAN_OUT_TEAMS}
        with celery_cluster.timed(f"celery: weekly_insights for {len(FAN_OUT_TEAMS)} teams"):
            api.wait_for_runs(dag_id, list(run_ids.values()), timeout=240)
        calls = services.model.calls
    finally:
        services.reset_model()

    period = truth.last_day.isoformat()
    for team_id, run_id in run_ids.items():
        tis = api.task_instances(dag_id, run_id)
        assert {ti["state"] for ti in tis} == {"success"}, [(ti["task_id"], ti["state"]) for ti in tis]
        # The team's chain is a mapped task group, run on the Celery workers.
        assert {ti["hostname"] for ti in tis} <= set(celery_cluster.worker_names), tis
        # The team, and any other only for a member whose own Sunday 09:00 it is too (at London's,
        # Berlin's member in Lisbon).
        served = api.xcom(dag_id, run_id, "fetch")
        assert {"team": team_id, "period": period} in served, served
        for other in (s["team"] for s in served if s["team"] != team_id):
            team, members = teams[other]
            zones = [ZoneInfo(m.timezone or team.timezone) for m in members]
            assert any(when[team_id].astimezone(z).strftime("%a %H") == "Sun 09" for z in zones), other
    assert calls == len(FAN_OUT_TEAMS)  # one structured call a team, no retry

    # Delivered once per target: one ledger row each (a team's rows are keyed `<dag>/<team>`),
    # sent at the first attempt ...
    rows = _team_ledger(services, dag_id)
    keys = [tuple(key) for *key, _attempt, _status in rows]
    assert len(keys) == len(set(keys)), rows
    assert {job for job, *_rest in rows} == {f"{dag_id}/{t}" for t in FAN_OUT_TEAMS}, rows
    assert {(attempt, status) for *_key, attempt, status in rows} == {(1, "sent")}, rows
    # ... and received once: the Slack channel of a team that has one, its list's mail, and the
    # preview of each member whose own clock reads the team's (the others' is at their own 09:00).
    for team_id in FAN_OUT_TEAMS:
        team, members = teams[team_id]
        if team.slack_channel:
            posts = [
                r
                for r in services.slack.requests[posts_before:]
                if r.path == SLACK_POST and r.params.get("channel") == team.slack_channel
            ]
            assert len(posts) == 1, (team_id, posts)
        mails = Counter(tuple(sorted(m.rcpt_tos)) for m in services.smtp.messages[mails_before:])
        if team.email_list:
            assert mails[tuple(sorted(team.email_list))] == 1, (team_id, mails)
        for member in on_the_teams_clock(team, members, when[team_id]):
            assert mails[(member.email,)] == 1, (team_id, member.email, mails)


def _team_ledger(services: SchedulerServices, dag_id: str) -> list[tuple[str, str, str, str, int, str]]:
    """(job, logical_date, channel, target, attempt, status) of every team's deliveries."""
    engine = sa.create_engine(services.ledger_url())
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select job, logical_date, channel, target, attempt, status from agentjobs_delivery "
                    "where job like :teams order by 1, 2, 3, 4, 5"
                ),
                {"teams": f"{dag_id}/%"},
            )
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def test_c_a_worker_killed_during_the_model_call_loses_no_run_and_delivers_once(
    celery_cluster: CeleryCluster, digest: SlackDigest
) -> None:
    api, services = celery_cluster.api, digest.services
    held = HeldModelCall()
    services.reset_model()
    services.model.default_step = held.step()
    try:
        run = api.trigger(digest.dag_id, logical_date=logical_date_of(KILL_DAY))
        run_id = run["dag_run_id"]
        triggered = time.monotonic()
        assert held.arrived.wait(120), api.explain(digest.dag_id, [run_id])
        victim = poll(
            lambda: _running_on(api, digest.dag_id, run_id, "summarize"),
            timeout=30,
            what="the running summarize try's hostname",
        )
        (survivor,) = set(celery_cluster.worker_names) - {victim}
        killed_pids = celery_cluster.kill_worker(victim)
        killed_at = time.monotonic()
        held.release()  # the held answer now goes to a dead socket
        (finished,) = api.wait_for_runs(digest.dag_id, [run_id], timeout=HEARTBEAT_TIMEOUT_S + 150)
        recovered_at = time.monotonic()
    finally:
        held.release()
        services.reset_model()

    # The worker and every process it had started are gone; nothing of it was left behind.
    assert not [pid for pid in killed_pids if psutil.pid_exists(pid) and _not_zombie(pid)], killed_pids
    # The run the kill interrupted still succeeded ...
    assert finished["state"] == "success"
    states = api.task_states(digest.dag_id, run_id)
    assert set(states) == TASKS and set(states.values()) == {"success"}, states
    # ... because the orphaned try was failed and retried once, on the surviving worker.
    tries = api.tries(digest.dag_id, run_id, "summarize")
    assert [(t["try_number"], t["state"], t["hostname"]) for t in tries] == [
        (1, "failed", victim),
        (2, "success", survivor),
    ], tries
    after_kill = {
        k: v for k, v in hostnames(api, digest.dag_id, run_id).items() if k in ("validate", "deliver_slack_0")
    }
    assert set(after_kill.values()) == {survivor}, after_kill
    # The model was asked twice (the lost call and the retry's) and the day posted once.
    assert held.calls == 2
    assert len(digest.posts(KILL_DAY)) == 1
    assert digest.ledger(KILL_DAY) == [("slack", 1, "sent", run_id)]
    # The backfilled days saw nothing more.
    for day in BACKFILL_DAYS:
        assert len(digest.posts(day)) == 1, day

    retry_started = datetime.fromisoformat(tries[1]["start_date"])
    failed_at = datetime.fromisoformat(tries[0]["end_date"])
    m = celery_cluster.measurements.phases
    m["celery: trigger to the held model call"] = killed_at - triggered
    m["celery: kill to run success"] = recovered_at - killed_at
    m["celery: orphaned try failed to retry start"] = (retry_started - failed_at).total_seconds()
    print(
        f"\nkilled {victim} ({len(killed_pids)} processes); run {run_id} succeeded "
        f"{recovered_at - killed_at:.1f}s later on {survivor} "
        f"(heartbeat timeout {HEARTBEAT_TIMEOUT_S}s, retry delay {RETRY_DELAY_S}s)"
    )


def _running_on(api: AirflowApi, dag_id: str, run_id: str, task_id: str) -> str | None:
    ti: dict[str, Any] = next(t for t in api.task_instances(dag_id, run_id) if t["task_id"] == task_id)
    return ti["hostname"] if ti["state"] == "running" and ti["hostname"] else None


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_d_stopping_the_cluster_ends_every_worker_process_without_a_sigkill(
    celery_cluster: CeleryCluster,
) -> None:
    # Last in the module: stops the cluster here (the fixture's teardown then finds it stopped).
    alive = [n for n in celery_cluster.worker_names if n not in celery_cluster.killed]
    assert alive, celery_cluster.describe_workers()
    # The worker, its Celery pool: the tree SIGTERM must end.
    pids = [p.pid for n in alive for p in celery_cluster.worker_tree(n)]
    assert len(pids) > len(alive), pids
    celery_cluster.stop()
    assert celery_cluster.leftovers() == []
    assert not [pid for pid in pids if _not_zombie(pid)], pids
    # A clean shutdown: nothing of a worker had to be SIGKILLed after the grace period.
    # (The command line, not its path: the checkout may sit in a folder named "celery".)
    assert not [c for c in celery_cluster.measurements.sigkilled if " celery worker" in c], (
        celery_cluster.measurements.sigkilled
    )

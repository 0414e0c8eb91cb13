"""A fan-out job across two hosts that share no disk: run files on S3, the ledger on PostgreSQL.

Two Celery workers, each with a home, an artifact base and a temp folder of its own (nothing of a
run's files is on a disk another process reads), on a Redis broker; the api-server, scheduler,
dag-processor and triggerer on a PostgreSQL metadata DB; the run files on S3 (the session's moto
server, `[agentjobs] run_files` through an `aws` connection of every process); the delivery
ledger in PostgreSQL. Only the image is shared, as in a real deployment: the code, the dags
folder and the job specs.

weekly_insights over four teams, served at one hour (the spec maps the teams onto UTC and runs on
Sundays at 09:00), is backfilled over two Sundays through the REST API. Every model call is held
until both workers run summarize tasks; the worker running one is then SIGKILLed in the middle
of its model call. Its tries are failed once their heartbeat times out and retried on the other
worker, from the files on S3 alone. Every team of both weeks is delivered exactly once (the
fakes' messages and the ledger), each ledger row's sha256 is the bucket's artifact's, and no
process's artifact base ever held a run file.

Without PostgreSQL or Redis it skips with the reason, unless AGENTJOBS_REQUIRE_SERVICES=1 (CI),
where it fails. About 4 minutes and 1.3 GB (PSS) here.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.scheduler.celery_cluster import CeleryCluster, RedisUnavailable, check_redis
from tests.scheduler.conftest import (
    HeldModelCall,
    SchedulerServices,
    require_postgres,
    running_cluster,
    services_required,
    top_three_from_the_data,
)
from tests.scheduler.harness import PG_HOST, PG_PORT, AirflowApi, create_database, drop_database, poll, tail
from tests.scheduler.jobs import body_of
from tests.scheduler.test_ui_page import token

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(600)]

HELD_S = 360  # how long a held model call waits for its release (past the 300 s wait for both workers)

REDIS_DB = 11  # this module's broker database: no other test uses it (flushed at start)
HEARTBEAT_TIMEOUT_S = 15
RETRY_DELAY_S = 2
# Four teams with somewhere to deliver: Slack only (Berlin, LA), a list only (Tokyo), both (Sydney).
TEAMS = ("team-berlin", "team-la", "team-sydney", "team-tokyo")
# The spec maps every team onto UTC, so one Sunday 09:00 UTC run serves all four: the backfill
# covers two runs, one week each (the sample data ends on Saturday 2026-11-28).
SUNDAYS = (datetime(2026, 11, 22, 9, tzinfo=UTC), datetime(2026, 11, 29, 9, tzinfo=UTC))
SCRATCH_PREFIX = "agentjobs-run-files-"  # operators/run_files.py: a task try's scratch copy
SLACK_POST = "/api/chat.postMessage"


def require_redis() -> None:
    try:
        check_redis(REDIS_DB)
    except RedisUnavailable as exc:
        if services_required():
            pytest.fail(f"{exc} (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(str(exc))


class SeparateHostsCluster(CeleryCluster):
    """`CeleryCluster` whose workers share no disk with each other or with the other processes:
    each has its own AIRFLOW_HOME, working directory, artifact base, TMPDIR (where a task try's
    scratch copy of its run files goes) and task log folder, under `hosts/<worker>/`."""

    def host_dir(self, name: str) -> Path:
        return self.home / "hosts" / name

    def worker_artifact_base(self, name: str) -> Path:
        return self.host_dir(name) / "artifacts"

    def worker_tmp(self, name: str) -> Path:
        return self.host_dir(name) / "tmp"

    def worker_cwd(self, name: str) -> Path:
        return self.host_dir(name) / "home"

    def worker_env(self, name: str, base_env: Mapping[str, str]) -> dict[str, str]:
        env = super().worker_env(name, base_env)
        env.update(
            {
                "AIRFLOW_HOME": str(self.worker_cwd(name)),
                "AGENTJOBS_ARTIFACT_BASE": str(self.worker_artifact_base(name)),
                "TMPDIR": str(self.worker_tmp(name)),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.host_dir(name) / "logs"),
            }
        )
        return env

    def start(self, timeout: float = 180.0) -> SeparateHostsCluster:
        for name in self.worker_names:
            for folder in (self.worker_cwd(name), self.worker_artifact_base(name), self.worker_tmp(name)):
                folder.mkdir(parents=True, exist_ok=True)
        super().start(timeout)
        return self

    def task_log_tail(self, dag_id: str, run_id: str, task_id: str, try_number: int, lines: int = 40) -> str:
        """The try's log from the worker that ran it (each host keeps its own task logs)."""
        relative = Path(f"dag_id={dag_id}", f"run_id={run_id}", f"task_id={task_id}")
        found = [
            f"[{name}] {tail(log, lines)}"
            for name in self.worker_names
            for log in sorted((self.host_dir(name) / "logs" / relative).glob(f"**/attempt={try_number}.log"))
        ]
        return "\n".join(found) or f"(no worker has a log of {task_id} try {try_number})"


def files_below(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@dataclass
class MultiHost:
    cluster: SeparateHostsCluster
    services: SchedulerServices
    business_conn_id: str
    run_files_prefix: str

    @property
    def api(self) -> AirflowApi:
        return self.cluster.api


@pytest.fixture(scope="module")
def business_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The sample business database, loaded into a PostgreSQL database of its own (a server
    every host reaches, not a file on one of them)."""
    from agentjobs.business.generate import generate
    from agentjobs.business.load import load_into

    require_postgres()
    sqlite = tmp_path_factory.mktemp("multi-host") / "business.db"
    generate(sqlite)
    name = f"multihost_business_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    try:
        engine = sa.create_engine(url)
        try:
            load_into(sqlite, engine)
        finally:
            engine.dispose()
        yield name
    finally:
        drop_database(name)


@pytest.fixture(scope="module")
def multi_host(
    scheduler_services: SchedulerServices, business_database: str, request: pytest.FixtureRequest
) -> Iterator[MultiHost]:
    require_postgres()
    require_redis()
    services = scheduler_services
    prefix = f"run-files-{uuid.uuid4().hex[:8]}"
    business_conn_id = "multihost_business"
    llm = services.connections[services.llm_conn_id]
    connections = {
        **services.connections,
        # The model's client waits out the test's held calls (HeldModelCall, hold_s below): with
        # the services' 30 s timeout every held call was abandoned after 30 s and its try failed,
        # so on a loaded run where the tasks did not reach both workers within 30 s no moment ever
        # had both workers in their calls, and each try's retry started the wait over (CI, 12-07).
        services.llm_conn_id: {**llm, "extra": {**llm["extra"], "timeout": HELD_S + 60}},
        business_conn_id: {
            "conn_type": "postgres",
            "host": PG_HOST,
            "port": PG_PORT,
            "login": "postgres",
            "schema": business_database,
        },
    }
    # Every process: the workers sync their run files, the api-server's page reads them.
    run_files = {
        "AIRFLOW__AGENTJOBS__RUN_FILES": f"s3://{services.s3.bucket}/{prefix}",
        "AIRFLOW__AGENTJOBS__RUN_FILES_CONN_ID": services.aws_conn_id,
    }
    db_name = f"multihost_sched_{uuid.uuid4().hex[:10]}"
    try:
        with running_cluster(
            create_database(db_name),
            connections,
            request,
            SeparateHostsCluster,
            redis_db=REDIS_DB,
            workers=2,
            worker_concurrency=2,
            heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
            extra_env=run_files,
        ) as cluster:
            assert isinstance(cluster, SeparateHostsCluster)
            yield MultiHost(cluster, services, business_conn_id, prefix)
    finally:
        drop_database(db_name)


def weekly_insights_spec(env: MultiHost) -> dict[str, Any]:
    from tests.jobs.business import shipped_spec

    services = env.services
    teams = ", ".join(f"'{t}'" for t in TEAMS)
    spec = shipped_spec(
        "weekly-insights.yaml",
        services.llm_conn_id,
        env.business_conn_id,
        dag_id=f"multihost_insights_{uuid.uuid4().hex[:8]}",
        schedule="0 9 * * 0",
        timezone="UTC",
        retries=2,
        retry_delay_s=RETRY_DELAY_S,
        team_delivery={
            "slack_conn_id": services.slack_api_conn_id,
            "smtp_conn_id": services.smtp_conn_id,
            "member_preview": False,
        },
        ledger_conn_id=services.ledger_conn_id,
        sources={
            "sql": {
                "conn_id": env.business_conn_id,
                "inputs": {
                    "teams": {
                        "sql": "SELECT id, name, CAST('UTC' AS TEXT) AS timezone, currency, slack_channel, "
                        f"email_list FROM teams WHERE id IN ({teams})"
                    }
                },
            }
        },
    )
    return spec.model_dump(mode="json")


def test_a_backfill_over_two_hosts_with_a_worker_killed_delivers_every_team_once(
    multi_host: MultiHost,
) -> None:
    env, cluster, api, services = multi_host, multi_host.cluster, multi_host.api, multi_host.services
    slack_before, mails_before = len(services.slack.requests), len(services.smtp.messages)
    dag_id = cluster.add_job(weekly_insights_spec(env))
    api.wait_for_dag(dag_id)

    # Held past the 300 s wait for both workers below: an early call released at 120 s (as the
    # default hold does) let its task finish before the other worker's calls arrived on a loaded run.
    held = HeldModelCall(top_three_from_the_data, hold_all=True, hold_s=HELD_S)
    services.reset_model()
    services.model.default_step = held.step()
    try:
        backfill = api.create_backfill(dag_id, SUNDAYS[0], SUNDAYS[-1], max_active_runs=2)
        started = time.monotonic()
        assert held.arrived.wait(180), api.explain(dag_id, [r["dag_run_id"] for r in api.dag_runs(dag_id)])
        run_ids = [r["dag_run_id"] for r in api.dag_runs(dag_id, run_type="backfill")]
        # Every running summarize is inside its (held) model call, on both workers.
        busy = poll(
            lambda: _summarizing(api, dag_id, run_ids, held),
            # Each task start costs 5-20 s of a loaded 2-core machine; 120 s ran out once in CI.
            timeout=300,
            what="summarize tasks in their model calls on both workers",
        )
        victim = sorted(busy)[0]
        (survivor,) = set(cluster.worker_names) - {victim}
        killed_tries = busy[victim]
        cluster.kill_worker(victim)
        killed_at = time.monotonic()
        held.release()  # the victim's answers go to dead sockets; the survivor's tasks go on
        with cluster.timed("multi-host: backfill of 2 weeks x 4 teams, one worker killed"):
            runs = api.wait_for_backfill(backfill, timeout=HEARTBEAT_TIMEOUT_S + 300)
        recovered_s = time.monotonic() - killed_at
        calls = services.model.calls
    finally:
        held.release()
        services.reset_model()

    assert sorted(r["dag_run_id"] for r in runs) == sorted(run_ids) and len(runs) == len(SUNDAYS)
    _assert_the_killed_tries_were_retried_on_the_survivor(api, dag_id, killed_tries, victim, survivor)
    periods = _assert_every_team_served_and_green(api, dag_id, runs, cluster.worker_names)
    # One call a team and week, plus the lost calls of the killed tries (repeated by their retries).
    assert calls == len(TEAMS) * len(SUNDAYS) + len(killed_tries), (calls, killed_tries)

    stored = _bucket_artifacts(services, env.run_files_prefix, dag_id, periods)
    rows = _ledger_rows(services, dag_id)
    _assert_delivered_once(services, rows, stored, periods, slack_before, mails_before)
    _assert_the_page_serves_the_bucket_s_files(cluster, dag_id, periods, stored)
    _assert_no_run_file_on_a_local_disk(cluster, dag_id, victim, survivor, killed_tries)

    print(
        f"\nkilled {victim} in {len(killed_tries)} model call(s) {killed_at - started:.1f}s into the "
        f"backfill; both runs succeeded {recovered_s:.1f}s later on {survivor}; "
        f"{len(rows)} deliveries, {calls} model calls"
    )


def _summarizing(
    api: AirflowApi, dag_id: str, run_ids: list[str], held: HeldModelCall
) -> dict[str, list[tuple[str, int]]] | None:
    """{worker: [(run_id, map_index) of its running summarize tries]} once both runs' fetch is
    done (no other task can be running: every summarize waits), every running summarize waits in
    a held call and both workers run one; else None."""
    running: dict[str, list[tuple[str, int]]] = {}
    for run_id in run_ids:
        tis = api.task_instances(dag_id, run_id)
        if any(ti["task_id"] == "fetch" and ti["state"] != "success" for ti in tis):
            return None
        for ti in tis:
            if ti["task_id"] == "team.summarize" and ti["state"] == "running" and ti["hostname"]:
                running.setdefault(ti["hostname"], []).append((run_id, ti["map_index"]))
    count = sum(len(tries) for tries in running.values())
    return running if len(running) == 2 and count == held.waiting else None


def _assert_the_killed_tries_were_retried_on_the_survivor(
    api: AirflowApi, dag_id: str, killed: list[tuple[str, int]], victim: str, survivor: str
) -> None:
    for run_id, map_index in killed:
        tries = api.request(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/team.summarize/{map_index}/tries",
        )["task_instances"]
        tries = sorted(tries, key=lambda t: t["try_number"])
        assert [(t["try_number"], t["state"], t["hostname"]) for t in tries] == [
            (1, "failed", victim),
            (2, "success", survivor),
        ], tries
        # The team's chain went on from the files the retry left on S3, on the other host.
        later = {
            ti["task_id"]: ti["hostname"]
            for ti in api.task_instances(dag_id, run_id)
            if ti["map_index"] == map_index and ti["task_id"] in ("team.validate", "team.deliver")
        }
        assert later and set(later.values()) == {survivor}, later


def _assert_every_team_served_and_green(
    api: AirflowApi, dag_id: str, runs: list[dict[str, Any]], workers: list[str]
) -> dict[str, str]:
    """Each run served the four teams with every task a success on a worker; returns
    {run_id: period}."""
    periods: dict[str, str] = {}
    for run in runs:
        run_id = run["dag_run_id"]
        tis = api.task_instances(dag_id, run_id)
        assert {ti["state"] for ti in tis} <= {"success"}, [(ti["task_id"], ti["state"]) for ti in tis]
        assert {ti["hostname"] for ti in tis if ti["state"] == "success"} <= set(workers), tis
        served = api.xcom(dag_id, run_id, "fetch")
        assert sorted(s["team"] for s in served) == sorted(TEAMS), served
        (period,) = {s["period"] for s in served}
        periods[run_id] = period
    assert len(set(periods.values())) == len(SUNDAYS), periods  # one week each
    return periods


def _bucket_artifacts(
    services: SchedulerServices, prefix: str, dag_id: str, periods: dict[str, str]
) -> dict[tuple[str, str], bytes]:
    """{(team, period): the artifact's bytes in the bucket}, each written exactly once."""
    client = services.s3.client()
    stored = {}
    for period in periods.values():
        for team in TEAMS:
            key = f"{prefix}/{dag_id}/{team}/{period}/insights.md"
            versions = client.list_object_versions(Bucket=services.s3.bucket, Prefix=key).get("Versions", [])
            assert len([v for v in versions if v["Key"] == key]) == 1, (key, versions)
            stored[(team, period)] = client.get_object(Bucket=services.s3.bucket, Key=key)["Body"].read()
    return stored


def _ledger_rows(services: SchedulerServices, dag_id: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(services.ledger_url())
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select job, logical_date, channel, target, attempt, status, content_sha256 "
                    "from agentjobs_delivery where job like :teams order by 1, 2, 3, 4, 5"
                ),
                {"teams": f"{dag_id}/%"},
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def _assert_delivered_once(
    services: SchedulerServices,
    rows: list[dict[str, Any]],
    stored: dict[tuple[str, str], bytes],
    periods: dict[str, str],
    slack_before: int,
    mails_before: int,
) -> None:
    from agentjobs.business.generate import TEAMS as PROFILES

    profiles = {p.id: p for p in PROFILES if p.id in TEAMS}
    channels = {p.slack_channel: len(periods) for p in profiles.values() if p.slack_channel}
    lists = {_addresses(p.email_list): len(periods) for p in profiles.values() if p.email_list}
    # The ledger: one row per team, week and target (a Slack channel keyed by its connection, a
    # list by its sorted addresses), sent at the first attempt, whose sha256 is the bucket's
    # artifact's (deliver hashed its own copy, pulled on its own host).
    expected = set()
    for period in periods.values():
        for team, p in profiles.items():
            if p.slack_channel:
                expected.add((team, period, "slack", f"{services.slack_api_conn_id}:{p.slack_channel}"))
            if p.email_list:
                expected.add((team, period, "email", _addresses(p.email_list)))
    keys = [(r["job"].split("/", 1)[1], r["logical_date"], r["channel"], r["target"]) for r in rows]
    assert sorted(keys) == sorted(expected), rows
    assert {(r["attempt"], r["status"]) for r in rows} == {(1, "sent")}, rows
    for row, (team, period, _channel, _target) in zip(rows, keys, strict=True):
        assert row["content_sha256"] == hashlib.sha256(stored[(team, period)]).hexdigest(), row

    # The fakes: each team's channel posted and its list mailed once a week, nothing else ...
    slack = [r for r in services.slack.requests[slack_before:] if r.path == SLACK_POST]
    mail = services.smtp.messages[mails_before:]
    assert Counter(r.params.get("channel") for r in slack) == channels, slack
    assert Counter(_addresses(",".join(m.rcpt_tos)) for m in mail) == lists, [m.rcpt_tos for m in mail]
    # ... one message of each week (its title names the team and the week's period).
    for team, period in stored:
        p = profiles[team]
        heading = f"{p.name}, {period}"
        if p.slack_channel:
            texts = [str(r.params.get("text")) for r in slack if r.params.get("channel") == p.slack_channel]
            assert sum(heading in text for text in texts) == 1, (heading, texts)
        if p.email_list:
            to = _addresses(p.email_list)
            texts = [_mail_text(m) for m in mail if _addresses(",".join(m.rcpt_tos)) == to]
            assert sum(heading in text for text in texts) == 1, (heading, texts)


def _mail_text(envelope: Any) -> str:
    parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
    return f"{parsed['Subject']}\n{body_of(parsed)}"


def _addresses(email_list: str) -> str:
    return ",".join(sorted(a.strip() for a in email_list.split(",")))


def _assert_the_page_serves_the_bucket_s_files(
    cluster: SeparateHostsCluster, dag_id: str, periods: dict[str, str], stored: dict[tuple[str, str], bytes]
) -> None:
    """The agentjobs page on the api-server, whose own disk holds nothing, serves each team's
    artifact from the bucket."""
    headers = {"Authorization": f"Bearer {token(cluster)}"}
    for run_id, period in periods.items():
        served = cluster.api.xcom(dag_id, run_id, "fetch")
        for map_index, entry in enumerate(served):
            url = f"{cluster.base_url}/agentjobs/runs/{dag_id}/{run_id}/team.summarize/files/insights.md"
            response = httpx.get(
                url, params={"map_index": map_index}, headers=headers, trust_env=False, timeout=30
            )
            assert response.status_code == 200, (url, map_index, response.text[:500])
            assert response.content == stored[(entry["team"], period)], (run_id, entry)


def _assert_no_run_file_on_a_local_disk(
    cluster: SeparateHostsCluster, dag_id: str, victim: str, survivor: str, killed: list[tuple[str, int]]
) -> None:
    # The scheduler's and api-server's artifact base, and each worker's, never held a run file:
    # every task worked in a scratch copy in its own host's temp folder.
    assert files_below(cluster.artifact_base) == []
    for name in cluster.worker_names:
        assert files_below(cluster.worker_artifact_base(name)) == [], name
    # The survivor removed every scratch copy it made; the victim, killed, left those of the
    # tries it was running, holding their team folders only (and nothing on the survivor read them).
    assert not list(cluster.worker_tmp(survivor).glob(f"{SCRATCH_PREFIX}*"))
    leftovers = list(cluster.worker_tmp(victim).glob(f"{SCRATCH_PREFIX}*"))
    assert len(leftovers) == len(killed), leftovers
    for scratch in leftovers:
        teams = {p.name for p in (scratch / dag_id).iterdir()}
        assert len(teams) == 1 and teams <= set(TEAMS), (scratch, teams)

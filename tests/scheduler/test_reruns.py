"""Reruns under the real scheduler: a backfill, clears and a forced redelivery of the daily
digest, driven through the REST API, with every delivery counted at the loopback fakes.

One job for the module; the tests run in file order and each states what it expects of
the whole history so far (a clear adds nothing, so each also holds when run alone).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import subprocess
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.pools import LLM_POOL
from agentjobs.sources.demo_feed import render_demo_feed
from tests.fakes.slack import WEBHOOK_PATH, SlackRequest
from tests.scheduler.conftest import SchedulerServices
from tests.scheduler.harness import AirflowApi, AirflowCluster
from tests.scheduler.jobs import TODAY, logical_date_of

# The first test's set-up starts the cluster and runs the backfill: more than the suite's 300 s
# would be a hang, but the waits below fail first, with the processes' logs.
pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(480)]


# Three consecutive past days, relative to today so the backfill is never in the future.
DAYS = [TODAY - timedelta(days=n) for n in (5, 4, 3)]
CHANNELS = ("email", "s3", "slack")
DELIVER_TASKS = ("deliver_email_0", "deliver_slack_1", "deliver_s3_2")
# alert_on_failure is every run's last task: it runs (all_done) and succeeds when nothing failed.
TASKS = {"fetch_git", "fetch_rss", "summarize", "validate", *DELIVER_TASKS, "alert_on_failure"}
SLACK_POST, SLACK_UPDATE = "/api/chat.postMessage", "/api/chat.update"


def commit_subjects(day: date) -> list[str]:
    return [f"{day}: add the fetch step", f"{day}: fix the retry policy"]


def make_repo(path: Path) -> Path:
    """A git repository with two commits on each day, and one before and after the window."""
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org"}
    env.update(GIT_COMMITTER_NAME="Ada", GIT_COMMITTER_EMAIL="ada@example.org")
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    commits = [(datetime.combine(DAYS[0] - timedelta(days=1), time(12), UTC), "before the window")]
    for day in DAYS:
        first, second = commit_subjects(day)
        commits += [
            (datetime.combine(day, time(9), UTC), first),
            (datetime.combine(day, time(15, 30), UTC), second),
        ]
    commits.append((datetime.combine(DAYS[-1] + timedelta(days=1), time(8), UTC), "after the window"))
    for stamp, subject in commits:
        dated = {**env, "GIT_AUTHOR_DATE": stamp.isoformat(), "GIT_COMMITTER_DATE": stamp.isoformat()}
        subprocess.run(
            ["git", "-C", str(path), "commit", "-q", "--allow-empty", "-m", subject], check=True, env=dated
        )
    return path


@dataclass
class DigestJob:
    dag_id: str
    title: str
    services: SchedulerServices
    cluster: AirflowCluster
    ledger_url: sa.URL | str

    @property
    def api(self) -> AirflowApi:
        return self.cluster.api

    def timed(self, phase: str) -> contextlib.AbstractContextManager[None]:
        return self.cluster.timed(phase)

    # -- what the fakes received, per day ---------------------------------------------------

    def emails(self, day: date) -> list[email.message.EmailMessage]:
        subject = f"{self.title} — {day}"
        parsed = [
            email.message_from_bytes(m.content, policy=email.policy.default)
            for m in self.services.smtp.messages
        ]
        return [m for m in parsed if m["Subject"] == subject]

    def slack_messages(self, day: date) -> list[SlackRequest]:
        """chat.postMessage and chat.update calls carrying the day's digest, in order."""
        heading = f"{self.title} — {day}"
        calls = [r for r in self.services.slack.requests if r.path in (SLACK_POST, SLACK_UPDATE)]
        return [r for r in calls if heading in str(r.params.get("text", ""))]

    def alerts(self) -> list[SlackRequest]:
        return self.services.slack.calls(WEBHOOK_PATH)

    def s3_versions(self, day: date) -> Counter[str]:
        """Versions per key under the day's prefix: the digest and its snapshot files."""
        s3 = self.services.s3
        listing = s3.client().list_object_versions(Bucket=s3.bucket, Prefix=f"reports/{self.dag_id}/{day}")
        return Counter(v["Key"] for v in listing.get("Versions", []))

    def counts(self) -> dict[date, tuple[int, int, int]]:
        return {
            day: (
                len(self.emails(day)),
                len(self.slack_messages(day)),
                self.s3_versions(day)[self.digest_key(day)],
            )
            for day in DAYS
        }

    def digest_key(self, day: date) -> str:
        return f"reports/{self.dag_id}/{day}.md"

    def ledger(self, day: date) -> list[tuple[str, int, bool, str, str]]:
        """(channel, attempt, forced, status, run_id) of the day, straight from the table."""
        return [row[:5] for row in self.ledger_rows(day)]

    def ledger_rows(self, day: date) -> list[tuple[Any, ...]]:
        """(channel, attempt, forced, status, run_id, receipt) of the day, straight from the table."""
        engine = sa.create_engine(self.ledger_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "select channel, attempt, forced, status, run_id, receipt from agentjobs_delivery "
                        "where job = :job and logical_date = :day order by channel, attempt"
                    ),
                    {"job": self.dag_id, "day": day.isoformat()},
                )
                return [tuple(row) for row in rows]
        finally:
            engine.dispose()


@pytest.fixture(scope="module", params=["postgres", "sqlite"])
def cluster(request: pytest.FixtureRequest) -> AirflowCluster:
    """The same reruns on PostgreSQL, as in production, and on the embedded default, SQLite."""
    if request.param == "postgres":
        return request.getfixturevalue("airflow_cluster")
    return request.getfixturevalue("sqlite_airflow_cluster")


@pytest.fixture(scope="module")
def digest_job(
    cluster: AirflowCluster,
    scheduler_services: SchedulerServices,
    tmp_path_factory: pytest.TempPathFactory,
) -> DigestJob:
    root = tmp_path_factory.mktemp("digest-job")
    repo = make_repo(root / "repo")
    feeds = []
    for day in DAYS:  # the demo feed, dated on each day: items for the model to judge
        feed = root / f"feed-{day}.xml"
        feed.write_text(render_demo_feed(day))
        feeds.append(str(feed))
    suffix = uuid.uuid4().hex[:8]
    services = scheduler_services
    on_sqlite = cluster.sql_alchemy_conn.startswith("sqlite")
    spec = {
        "dag_id": f"sched_digest_{suffix}",
        "title": f"Digest {suffix}",
        "schedule": "0 3 * * *",
        "timezone": "UTC",
        "start_date": (DAYS[0] - timedelta(days=30)).isoformat(),
        "catchup": True,
        "skill": "daily-digest",
        "mode": "structured",
        "llm_conn_id": services.llm_conn_id,
        # On SQLite the embedded default too: no ledger connection, a SQLite file in AIRFLOW_HOME.
        "ledger_conn_id": None if on_sqlite else services.ledger_conn_id,
        "sources": {"git": {"repos": [str(repo)]}, "rss": {"feeds": feeds}},
        "channels": [
            {"type": "email", "conn_id": services.smtp_conn_id, "to": ["team@example.org"]},
            {"type": "slack", "conn_id": services.slack_api_conn_id, "channel": "C0DIGEST"},
            {"type": "s3", "conn_id": services.aws_conn_id, "bucket": services.s3.bucket},
        ],
        # A failed task alerts here; the tests assert nothing ever arrives.
        "alert": {"type": "slack", "conn_id": services.slack_webhook_conn_id},
        "pool": LLM_POOL,
    }
    # As the shipped spec does: summarize runs in the LLM pool, which a deployment creates
    # first (a task in a pool that does not exist is never scheduled).
    cluster.api.ensure_pool(LLM_POOL, 2, "LLM endpoint concurrency")
    services.reset_model()
    dag_id = cluster.add_job(spec)
    with cluster.timed("new job parsed"):
        cluster.api.wait_for_dag(dag_id)
    ledger_url = f"sqlite:///{cluster.home / 'agentjobs-ledger.db'}" if on_sqlite else services.ledger_url()
    return DigestJob(dag_id, spec["title"], services, cluster, ledger_url)


@pytest.fixture(scope="module")
def backfilled(digest_job: DigestJob) -> dict[date, str]:
    """Backfill the three days through the API; day -> run_id."""
    api = digest_job.api
    backfill = api.create_backfill(
        digest_job.dag_id, logical_date_of(DAYS[0]), logical_date_of(DAYS[-1]), max_active_runs=3
    )
    with digest_job.timed("backfill of 3 days"):
        runs = api.wait_for_backfill(backfill, timeout=240)
    by_day = {}
    for run in runs:
        assert run["run_type"] == "backfill"
        logical = datetime.fromisoformat(run["logical_date"])
        by_day[logical.date() - timedelta(days=1)] = run["dag_run_id"]
    return by_day


def assert_all_succeeded(api: AirflowApi, dag_id: str, run_id: str) -> None:
    states = api.task_states(dag_id, run_id)
    assert set(states) == TASKS and set(states.values()) == {"success"}, states


def test_a_backfill_of_three_days_delivers_each_digest_once_per_channel(
    digest_job: DigestJob, backfilled: dict[date, str]
) -> None:
    job, api = digest_job, digest_job.api
    assert sorted(backfilled) == DAYS

    for day, run_id in backfilled.items():
        assert_all_succeeded(api, job.dag_id, run_id)
        validated = api.xcom(job.dag_id, run_id, "validate")
        assert validated["day"] == day.isoformat()
        digest = Path(validated["artifact"]).read_text()
        # The run digested its own day: its commits, nobody else's.
        for other in DAYS:
            for subject in commit_subjects(other):
                assert (subject in digest) == (other == day), (day, subject)
        assert "Worth a look: item 0" in digest

        assert [
            m.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() for m in job.emails(day)
        ] == [digest.strip()]
        assert [r.path for r in job.slack_messages(day)] == [SLACK_POST]
        versions = job.s3_versions(day)
        assert versions[job.digest_key(day)] == 1 and set(versions.values()) == {1}, versions
        for task_id in DELIVER_TASKS:
            pushed = api.xcom(job.dag_id, run_id, task_id)
            assert pushed["delivered"] is True and pushed["attempt"] == 1, (task_id, pushed)
        assert job.ledger(day) == [(channel, 1, False, "sent", run_id) for channel in CHANNELS]

    # One structured call per day, nothing else: no loops, no retries.
    assert job.services.model.calls == len(DAYS)
    assert job.alerts() == []  # no task failed, not even once


def test_b_clearing_a_day_twice_delivers_nothing_again(
    digest_job: DigestJob, backfilled: dict[date, str]
) -> None:
    job, api = digest_job, digest_job.api
    day = DAYS[1]
    run_id = backfilled[day]
    before = job.counts()
    assert before[day] == (1, 1, 1)
    s3_before = {d: job.s3_versions(d) for d in DAYS}
    calls_before = job.services.model.calls

    for clear in (1, 2):
        if clear == 1:  # the run's "Clear" in the UI
            cleared = api.clear_run(job.dag_id, run_id)
            assert cleared["dag_run_id"] == run_id, cleared
        else:  # every task of the run cleared: the other route to the same rerun
            cleared = api.clear_task_instances(job.dag_id, run_id)
            assert {ti["task_id"] for ti in cleared["task_instances"]} == TASKS, cleared
        # No longer 'success' before the wait starts, so the wait cannot see the old one: queued
        # again, or already running where the scheduler was quick (an idle CI machine, 12-07).
        assert api.dag_run(job.dag_id, run_id)["state"] in ("queued", "running")
        with job.timed(f"clear {clear}"):
            api.wait_for_runs(job.dag_id, [run_id], timeout=150)
        assert_all_succeeded(api, job.dag_id, run_id)
        # Every task really ran again (a clear starts a new try) ...
        tries = {ti["task_id"]: ti["try_number"] for ti in api.task_instances(job.dag_id, run_id)}
        assert set(tries.values()) == {1 + clear}, tries
        # ... and every delivery task found the ledger's 'sent' row and sent nothing.
        for task_id in DELIVER_TASKS:
            pushed = api.xcom(job.dag_id, run_id, task_id)
            assert pushed["delivered"] is False and "skipped" in pushed["message"], (task_id, pushed)

    assert job.counts() == before
    assert {d: job.s3_versions(d) for d in DAYS} == s3_before  # not even a snapshot file re-uploaded
    assert job.ledger(day) == [(channel, 1, False, "sent", run_id) for channel in CHANNELS]
    # The day was delivered: each clear kept the digest as sent, with no model call.
    assert job.services.model.calls == calls_before


def test_c_force_redeliver_delivers_again_and_the_ledger_keeps_both(
    digest_job: DigestJob, backfilled: dict[date, str]
) -> None:
    job, api = digest_job, digest_job.api
    day = DAYS[1]
    before = job.counts()
    calls_before = job.services.model.calls
    # Airflow keeps one run per logical date: the backfill run's own date is refused ...
    refused = api.request(
        "POST",
        f"/dags/{job.dag_id}/dagRuns",
        ok=(409,),
        json={"logical_date": logical_date_of(day).isoformat(), "conf": {"force_redeliver": True}},
    )
    assert refused is not None
    # ... so the manual run takes another time of the same morning: a run covers the day
    # before its logical date, so noon digests `day` just as 03:00 did.
    logical = logical_date_of(day).replace(hour=12)
    run = api.trigger(job.dag_id, logical_date=logical, conf={"force_redeliver": True})
    assert run["run_type"] == "manual" and run["conf"]["force_redeliver"] is True
    with job.timed("forced run"):
        (finished,) = api.wait_for_runs(job.dag_id, [run["dag_run_id"]], timeout=150)
    run_id = finished["dag_run_id"]
    assert_all_succeeded(api, job.dag_id, run_id)
    assert api.xcom(job.dag_id, run_id, "validate")["day"] == day.isoformat()

    # Every channel delivered again; the other days saw nothing.
    after = job.counts()
    assert after[day] == (2, 2, 2)
    assert {d: c for d, c in after.items() if d != day} == {d: c for d, c in before.items() if d != day}
    for task_id in DELIVER_TASKS:
        pushed = api.xcom(job.dag_id, run_id, task_id)
        assert pushed["delivered"] is True and pushed["attempt"] == 2, (task_id, pushed)
    # It sent the digest delivered before again, without asking the model for a new one.
    assert job.services.model.calls == calls_before

    # The ledger keeps both attempts of every channel.
    assert job.ledger(day) == [
        row
        for channel in CHANNELS
        for row in ((channel, 1, False, "sent", backfilled[day]), (channel, 2, True, "sent", run_id))
    ]
    # On the Slack API connection the re-delivery edits the message posted first
    # (update_on_redeliver, the default) rather than posting a second one.
    first, again = job.slack_messages(day)
    receipts = {(r[0], r[1]): json.loads(r[5]) for r in job.ledger_rows(day)}
    assert (first.path, again.path) == (SLACK_POST, SLACK_UPDATE)
    assert again.params["ts"] == receipts[("slack", 1)]["ts"] == receipts[("slack", 2)]["ts"]
    assert receipts[("slack", 2)]["mode"] == "update"
    assert job.alerts() == []

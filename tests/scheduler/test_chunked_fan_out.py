"""Chunked fan-out under the real processes, behind a rate-limited endpoint: weekly_insights for 24
teams in chunks of 8, the connection's limiter set to the endpoint's own low limit. Every team is
delivered exactly once, no try fails on a 429, and the run costs task instances per chunk, not per
team. The CI-sized sibling of bench/fanout_throughput.py's 200 teams; no timing is asserted (speed
lives in bench/)."""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import pytest
import sqlalchemy as sa

from tests.fakes.model_server import RecordedRequest, ScriptedModelServer, Step, error, respond
from tests.jobs.business import shipped_spec
from tests.scheduler.conftest import SchedulerServices, top_three_from_the_data
from tests.scheduler.harness import AirflowCluster

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(400)]

TEAMS = [f"team-{n:02d}" for n in range(24)]
CHUNK, CONCURRENCY = 8, 4
RPM = 30  # the endpoint's limit, and the connection's: one request every 2 s
REDIS_URL = "redis://127.0.0.1:6379/9"  # this test's own Redis db for the limiter's bucket
SUNDAY_NINE = datetime(2026, 11, 29, 9, tzinfo=UTC)  # every UTC team's weekly run


class RateLimitedEndpoint:
    """A token bucket of one request refilled at RPM / 60 a second: a request without a token gets
    429 with Retry-After, as an endpoint that enforces its limit per second does."""

    def __init__(self, rpm: float) -> None:
        self.rate = rpm / 60.0
        self.tokens, self.refilled = 1.0, time.monotonic()
        self.served = 0
        self.rejected = 0
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Step:
        with self._lock:
            now = time.monotonic()
            self.tokens = min(1.0, self.tokens + (now - self.refilled) * self.rate)
            self.refilled = now
            if self.tokens < 1.0:
                self.rejected += 1
                wait = math.ceil((1.0 - self.tokens) / self.rate)
                return error(429, "Rate limit reached for requests per minute", retry_after=wait)
            self.tokens -= 1.0
            self.served += 1
        return top_three_from_the_data(request)


def business_db(path: Path) -> Path:
    """24 UTC teams, each with its own mailing list and five weeks of income and spending."""
    from agentjobs.business import schema

    rng = Random(24)
    first = SUNDAY_NINE.replace(hour=0, tzinfo=None) - timedelta(days=35)
    teams, txns = [], []
    for team in TEAMS:
        teams.append({"id": team, "name": team.title(), "timezone": "UTC", "currency": "USD",
                      "email_list": f"{team}@example.org"})  # fmt: skip
        for day in range(35):
            for n, kind in enumerate(("income", "expense")):
                txns.append({"id": f"{team}-{day}-{n}", "team_id": team, "kind": kind,
                             "occurred_at": first + timedelta(days=day, hours=10 + n),
                             "category": "sales" if kind == "income" else rng.choice(["travel", "office"]),
                             "amount_cents": rng.randint(1_000, 90_000), "currency": "USD",
                             "description": f"{kind} {day}"})  # fmt: skip
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        schema.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(schema.teams.insert(), teams)
            conn.execute(schema.transactions.insert(), txns)
    finally:
        engine.dispose()
    return path


def test_a_chunked_fan_out_behind_a_rate_limit_delivers_every_team_once_in_tasks_per_chunk(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    import redis

    api, services = airflow_cluster.api, scheduler_services
    endpoint = RateLimitedEndpoint(RPM)
    model = ScriptedModelServer().start()
    model.default_step = respond(endpoint)
    suffix = uuid.uuid4().hex[:8]
    sql_conn, llm_conn = f"chunk_business_{suffix}", f"llm_limited_{suffix}"
    api.create_connection(sql_conn, {"conn_type": "sqlite", "host": str(business_db(tmp_path / "teams.db"))})
    base = services.connections[services.llm_conn_id]
    extra = {**base["extra"], "requests_per_minute": RPM, "rate_limit_store": REDIS_URL}
    api.create_connection(llm_conn, {**base, "host": model.base_url, "extra": extra})
    spec = shipped_spec(
        "weekly-insights.yaml",
        llm_conn,
        sql_conn,
        retries=1,  # as shipped: a try lost to a 429 would show as a second try
        team_delivery={"slack_conn_id": None, "smtp_conn_id": services.smtp_conn_id, "member_preview": False},
        ledger_conn_id=services.ledger_conn_id,
        fan_out={"chunk_size": CHUNK, "concurrency": CONCURRENCY},
    )
    mails = len(services.smtp.messages)
    try:
        dag_id = airflow_cluster.add_job(spec.model_dump(mode="json"))
        api.wait_for_dag(dag_id)
        run_id = api.trigger(dag_id, logical_date=SUNDAY_NINE)["dag_run_id"]
        with airflow_cluster.timed(f"chunked fan-out: {len(TEAMS)} teams at {RPM} req/min"):
            api.wait_for_runs(dag_id, [run_id], timeout=300)
    finally:
        model.stop()
        redis.Redis.from_url(REDIS_URL).delete(f"agentjobs:ratelimit:{llm_conn}")

    # Every team delivered exactly once: one mail to each team's list, none to anyone else.
    sent = Counter(rcpt for envelope in services.smtp.messages[mails:] for rcpt in envelope.rcpt_tos)
    assert sent == Counter({f"{team}@example.org": 1 for team in TEAMS}), sent
    # Each team asked the model once: no call made twice, whatever 429s the limiter's edges met.
    assert endpoint.served == len(TEAMS), (endpoint.served, endpoint.rejected)

    # Task instances per chunk, not per team: fetch, three mapped tasks a chunk, the alert task.
    tis = api.task_instances(dag_id, run_id)
    per_task = Counter(ti["task_id"] for ti in tis)
    chunks = len(TEAMS) // CHUNK
    assert per_task == {"fetch": 1, "team.summarize": chunks, "team.validate": chunks,
                        "team.deliver": chunks, "alert_on_failure": 1}, per_task  # fmt: skip
    # No try failed (on a 429 or anything else): each chunk's summarize succeeded at its first try.
    summarize = [ti for ti in tis if ti["task_id"] == "team.summarize"]
    assert {(ti["state"], ti["try_number"]) for ti in summarize} == {("success", 1)}, summarize
    summarized: list[str] = []
    for ti in summarize:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/team.summarize/xcomEntries/teams"
        value = api.request("GET", path, params={"map_index": ti["map_index"]})["value"]
        outcomes = json.loads(value) if isinstance(value, str) else value
        assert all("error" not in outcome for outcome in outcomes.values()), outcomes
        summarized.extend(outcomes)
    assert sorted(summarized) == TEAMS  # each team in exactly one chunk

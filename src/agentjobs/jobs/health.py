"""Job health: a job whose last success is too old, or that keeps failing, pages someone.

Deadline alerts watch one run; this watches the job across runs. Each validated digest
records a success and each failed task a failure (in the ledger's database, table
`agentjobs_job_runs`); the `agentjobs_health` DAG checks every job hourly and alerts through
the job's alert channel, at most once a day per job and problem (through the delivery ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from agentjobs.jobs.spec import JobSpec
from agentjobs.sql_tables import create_tables

TABLE_NAME = "agentjobs_job_runs"
STALE_FACTOR = 1.5
FAILURES_BEFORE_ALERT = 2

_metadata = sa.MetaData()
_runs = sa.Table(
    TABLE_NAME,
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(250), nullable=False, index=True),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # success | failure
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Problem:
    job: str
    kind: str  # "stale" | "failing"
    message: str


class JobRunLog:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        create_tables(_metadata, engine)

    def record(
        self, job: str, run_id: str, outcome: str, detail: str = "", at: datetime | None = None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                _runs.insert().values(
                    job=job, run_id=run_id, outcome=outcome, detail=detail[:2000], at=at or datetime.now(UTC)
                )
            )

    def run_failures(self, job: str, run_id: str) -> list[str]:
        """The failure details recorded for one run of `job`, oldest first."""
        query = (
            sa.select(_runs.c.detail)
            .where(_runs.c.job == job, _runs.c.run_id == run_id, _runs.c.outcome == "failure")
            .order_by(_runs.c.id)
        )
        with self.engine.connect() as conn:
            return [row.detail for row in conn.execute(query)]

    def recent(self, job: str, limit: int = 50) -> list[dict[str, Any]]:
        query = (
            sa.select(_runs)
            .where(_runs.c.job == job)
            .order_by(_runs.c.at.desc(), _runs.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite drops the zone


def job_interval(spec: JobSpec, now: datetime | None = None) -> timedelta:
    """The longest time between two scheduled runs over the coming week, in the job's time zone.

    The longest, not the next: weekly insights run hourly from Saturday to Monday only, and a job whose
    next gap is an hour must not be called stale after a quiet Tuesday.
    """
    from zoneinfo import ZoneInfo

    from croniter import croniter

    start = (now or datetime.now(UTC)).astimezone(ZoneInfo(spec.timezone))
    it = croniter(spec.schedule, start)
    previous = it.get_next(datetime)
    longest = timedelta(0)
    for _ in range(2000):  # a per-minute cron needs no more fires to know its gap
        fire = it.get_next(datetime)
        longest = max(longest, fire - previous)
        if fire - start > timedelta(days=8):
            break
        previous = fire
    return longest


@dataclass(frozen=True)
class JobHealth:
    """Where a job stands across its runs: what the health check alerts on and the UI shows."""

    job: str
    last_success: datetime | None
    next_expected: datetime  # the next scheduled run, in UTC
    overdue_since: datetime | None  # when the last success (or the start date) became too old
    limit: timedelta  # how old the last success may be (STALE_FACTOR intervals)
    failed_runs: int  # distinct runs with a failure since the last success

    @property
    def overdue(self) -> bool:
        return self.overdue_since is not None

    @property
    def failing(self) -> bool:
        return self.failed_runs >= FAILURES_BEFORE_ALERT


def next_run_after(spec: JobSpec, now: datetime) -> datetime:
    """The job's next scheduled run after `now` (its cron in its own time zone), in UTC."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    fire = croniter(spec.schedule, now.astimezone(ZoneInfo(spec.timezone))).get_next(datetime)
    return fire.astimezone(UTC)


def job_health(spec: JobSpec, log: JobRunLog, now: datetime) -> JobHealth:
    runs = log.recent(spec.dag_id)
    successes = [_aware(r["at"]) for r in runs if r["outcome"] == "success"]
    last_success = max(successes) if successes else None
    limit = job_interval(spec, now) * STALE_FACTOR
    # A job that never succeeded is judged from its start date, so a new job is not stale at once.
    since = last_success or datetime.combine(spec.start_date, datetime.min.time(), UTC)
    failures = {
        r["run_id"]
        for r in runs
        if r["outcome"] == "failure" and (not last_success or _aware(r["at"]) > last_success)
    }
    return JobHealth(
        job=spec.dag_id,
        last_success=last_success,
        next_expected=next_run_after(spec, now),
        overdue_since=since + limit if now - since > limit else None,
        limit=limit,
        failed_runs=len(failures),
    )


def check_job(spec: JobSpec, log: JobRunLog, now: datetime) -> list[Problem]:
    health = job_health(spec, log, now)
    last_success, limit = health.last_success, health.limit
    problems: list[Problem] = []
    if health.overdue:
        what = f"last succeeded {last_success:%Y-%m-%d %H:%M} UTC" if last_success else "has never succeeded"
        problems.append(Problem(spec.dag_id, "stale", f"{spec.title} {what}, more than {limit} ago"))
    if health.failing:
        problems.append(
            Problem(
                spec.dag_id,
                "failing",
                f"{spec.title} failed in {health.failed_runs} runs since its last success",
            )
        )
    return problems

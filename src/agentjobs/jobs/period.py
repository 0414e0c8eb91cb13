"""Which days a run covers, and where its files go.

A job scheduled at 03:00 covers the calendar day(s) *before* its logical date, in the
job's time zone: the run of 2026-11-25 03:00 digests 2026-11-24. Everything the run
writes is keyed by the last day covered, so a clear or a backfill of that run finds the
same snapshot and the same artifact.
"""

# Annotations evaluated at once, not postponed: typing.NamedTuple would compile each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class Period(NamedTuple):
    day: date  # the last day covered; the key of the run's files
    start: datetime  # inclusive, timezone-aware
    end: datetime  # exclusive

    @property
    def key(self) -> str:
        return self.day.isoformat()


def period_for(when: datetime, timezone: str, days: int = 1) -> Period:
    """The `days` calendar days before `when` (a logical date), in `timezone`."""
    tz = ZoneInfo(timezone)
    local_day = when.astimezone(tz).date()
    end = datetime.combine(local_day, time(0), tzinfo=tz)
    start = datetime.combine(local_day - timedelta(days=days), time(0), tzinfo=tz)
    return Period(day=local_day - timedelta(days=1), start=start, end=end)


def period_of_day(day: date, timezone: str, days: int = 1) -> Period:
    """The period whose last day is `day` (what `agentjobs digest --date` asks for)."""
    tz = ZoneInfo(timezone)
    return period_for(datetime.combine(day + timedelta(days=1), time(3), tzinfo=tz), timezone, days)


def context_period(context: Any, timezone: str, days: int = 1) -> Period:
    """The period of a task's run; a manual run without a logical date uses its run_after."""
    when = context.get("logical_date") or context["dag_run"].run_after
    return period_for(when, timezone, days)


def job_dir(dag_id: str, period: Period) -> Path:
    from agentjobs.jobs.artifacts import dag_folder  # run time: a DAG parse needs none

    return dag_folder(dag_id) / period.key

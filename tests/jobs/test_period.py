"""Which days a run covers: time zones, DST, weekly jobs, and the folder a run's files go to."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from agentjobs.jobs.period import context_period, period_for, period_of_day
from agentjobs.jobs.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")


def hours(start: datetime, end: datetime) -> float:
    # Aware datetimes sharing a tzinfo subtract as wall-clock times; compare real elapsed time.
    return (end.astimezone(UTC) - start.astimezone(UTC)) / timedelta(hours=1)


# --- period -------------------------------------------------------------------------------


def test_the_run_after_dst_ends_covers_the_25_hour_local_day():
    # 03:00 Berlin on 2026-10-26 (CET, UTC+1) is Airflow's logical date 02:00 UTC.
    period = period_for(datetime(2026, 10, 26, 2, 0, tzinfo=UTC), "Europe/Berlin")

    assert period.day == date(2026, 10, 25) and period.key == "2026-10-25"
    assert period.start.tzinfo is not None and period.end.tzinfo is not None
    assert period.start == datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN)
    assert period.end == datetime(2026, 10, 26, 0, 0, tzinfo=BERLIN)
    assert period.start.astimezone(UTC) == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # CEST
    assert period.end.astimezone(UTC) == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # CET
    assert hours(period.start, period.end) == 25


def test_the_run_after_dst_starts_covers_the_23_hour_local_day():
    period = period_for(datetime(2026, 3, 30, 1, 0, tzinfo=UTC), "Europe/Berlin")
    assert period.day == date(2026, 3, 29)
    assert hours(period.start, period.end) == 23


@pytest.mark.parametrize(
    ("when_utc", "day"),
    [
        # 23:30 UTC on the 25th is already 00:30 on the 26th in Berlin: the 25th is covered.
        (datetime(2026, 10, 25, 23, 30, tzinfo=UTC), date(2026, 10, 25)),
        # 22:30 UTC on the 25th is 23:30 on the 25th in Berlin: the 24th is covered.
        (datetime(2026, 10, 25, 22, 30, tzinfo=UTC), date(2026, 10, 24)),
    ],
)
def test_the_day_is_the_local_calendar_day_not_the_utc_one(when_utc, day):
    assert period_for(when_utc, "Europe/Berlin").day == day


def test_a_logical_date_in_another_zone_is_converted_first():
    when = datetime(2026, 11, 24, 20, 0, tzinfo=ZoneInfo("America/New_York"))  # 02:00 on the 25th in Berlin
    assert period_for(when, "Europe/Berlin").day == date(2026, 11, 24)
    assert period_for(when, "America/New_York").day == date(2026, 11, 23)


@pytest.mark.parametrize(
    "tz", ["Europe/Berlin", "UTC", "America/New_York", "Pacific/Kiritimati", "Asia/Kolkata"]
)
@pytest.mark.parametrize(
    "day", [date(2026, 10, 25), date(2026, 3, 29), date(2026, 11, 1), date(2026, 11, 24), date(2026, 12, 31)]
)
def test_period_of_day_round_trips(tz, day):
    period = period_of_day(day, tz)
    zone = ZoneInfo(tz)
    assert period.day == day and period.key == day.isoformat()
    assert period.start == datetime.combine(day, time(0), tzinfo=zone)
    assert period.end == datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    assert period.start.astimezone(zone).time() == time(0)
    assert period_for(period.end, tz) == period  # the run at the period's end covers the same day


def test_a_weekly_period_covers_seven_days_ending_on_its_day():
    period = period_of_day(date(2026, 11, 1), "Europe/Berlin", days=7)
    assert period.day == date(2026, 11, 1)
    assert period.start == datetime(2026, 10, 26, 0, 0, tzinfo=BERLIN)
    assert period.end == datetime(2026, 11, 2, 0, 0, tzinfo=BERLIN)
    assert hours(period.start, period.end) == 7 * 24
    across_dst = period_of_day(date(2026, 10, 25), "Europe/Berlin", days=7)
    assert across_dst.start == datetime(2026, 10, 19, 0, 0, tzinfo=BERLIN)
    assert hours(across_dst.start, across_dst.end) == 7 * 24 + 1


def test_the_shipped_weekly_job_covers_the_week_before_its_monday_run():
    spec = load_spec(REPO / "include" / "jobs" / "weekly-newsletter.yaml")
    assert spec.period_days == 7
    monday = datetime(2026, 11, 9, 5, 0, tzinfo=UTC)  # Monday 06:00 in Berlin
    period = period_for(monday, spec.timezone, spec.period_days)
    assert period.day == date(2026, 11, 8)  # Sunday
    assert period.start == datetime(2026, 11, 2, 0, 0, tzinfo=BERLIN)  # the Monday before
    assert period.end == datetime(2026, 11, 9, 0, 0, tzinfo=BERLIN)


def test_context_period_uses_the_logical_date_else_run_after():
    logical = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert context_period({"logical_date": logical}, "Europe/Berlin").day == date(2026, 11, 24)
    manual = {
        "logical_date": None,
        "dag_run": SimpleNamespace(run_after=datetime(2026, 11, 26, 8, tzinfo=UTC)),
    }
    assert context_period(manual, "Europe/Berlin").day == date(2026, 11, 25)
    assert context_period(manual, "Europe/Berlin", days=7).start == datetime(2026, 11, 19, tzinfo=BERLIN)


def test_no_dag_id_puts_run_files_outside_the_artifact_base(tmp_path, monkeypatch):
    from agentjobs.jobs.period import job_dir

    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "artifacts"))
    period = period_of_day(date(2026, 11, 24), "UTC")
    assert job_dir("team_digest", period) == tmp_path / "artifacts" / "team_digest" / "2026-11-24"
    for dag_id in ("..", ".", "", "../x", "/etc", "a/b"):
        with pytest.raises(ValueError, match="outside"):
            job_dir(dag_id, period)

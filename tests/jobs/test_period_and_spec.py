"""Which days a run covers (time zones, DST, weekly jobs) and the job spec's validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import yaml

from agentjobs.jobs.period import context_period, period_for, period_of_day
from agentjobs.jobs.spec import JobSpec, JobSpecError, load_spec, load_specs

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


# --- job spec -----------------------------------------------------------------------------

VALID = {
    "dag_id": "team_digest",
    "title": "Team digest",
    "start_date": "2026-11-01",
    "skill": "daily-digest",
    "sources": {"github": {"repos": ["acme/app"]}},
}


def write_spec(folder: Path, data: object, name: str = "job.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def without(key: str) -> dict:
    return {k: v for k, v in VALID.items() if k != key}


def test_a_minimal_spec_loads_with_its_defaults(tmp_path):
    spec = load_spec(write_spec(tmp_path, VALID))
    assert isinstance(spec, JobSpec)
    assert (spec.dag_id, spec.timezone, spec.schedule, spec.period_days) == (
        "team_digest",
        "UTC",
        "0 3 * * *",
        1,
    )
    assert spec.start_date == date(2026, 11, 1)
    assert spec.sources.names() == ["github"]


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({**VALID, "shedule": "0 4 * * *"}, "shedule", "Extra inputs are not permitted"),
        ({**VALID, "caps": {"max_iteration": 3}}, "caps.max_iteration", "Extra inputs are not permitted"),
        (without("skill"), "skill", "Field required"),
        ({**VALID, "sources": {}}, "sources", "name at least one source"),
        ({**VALID, "sources": {"git": None, "github": None}}, "sources", "name at least one source"),
        ({**VALID, "timezone": "Europe/Berlinn"}, "timezone", "unknown time zone 'Europe/Berlinn'"),
        (
            {**VALID, "sources": {"github": {"repos": ["acme/app", "https://github.com/acme/lib"]}}},
            "sources.github.repos.1",
            "String should match pattern",
        ),
        ({**VALID, "sources": {"github": {"repos": ["acme"]}}}, "sources.github.repos.0", "should match"),
        (
            {**VALID, "channels": [{"type": "email", "to": ["a@example.org"]}, {"type": "teams"}]},
            "channels.1",
            "'teams'",
        ),
        ({**VALID, "alert": {"type": "s3", "bucket": "b"}}, "alert", "'s3'"),
        ({**VALID, "channels": [{"type": "email", "to": []}]}, "channels.0.email.to", "at least 1"),
        ({**VALID, "dag_id": "my digest"}, "dag_id", "should match pattern"),
        ({**VALID, "commits_cap": 0}, "commits_cap", "greater than or equal to 1"),
    ],
)
def test_an_invalid_spec_names_the_file_and_the_field(tmp_path, data, field, says):
    path = write_spec(tmp_path, data, name="broken-job.yaml")
    with pytest.raises(JobSpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid job spec: ")
    assert f"field '{field}': " in message
    assert says in message


def test_every_problem_of_a_spec_is_reported_at_once(tmp_path):
    path = write_spec(tmp_path, {**without("skill"), "timezone": "Nowhere/Land", "colour": "blue"})
    with pytest.raises(JobSpecError) as caught:
        load_spec(path)
    for field in ("skill", "timezone", "colour"):
        assert f"field '{field}'" in str(caught.value)


def test_a_time_zone_that_is_a_region_folder_is_a_spec_error(tmp_path):
    path = write_spec(tmp_path, {**VALID, "timezone": "Europe"})
    with pytest.raises(JobSpecError, match=r"field 'timezone'"):
        load_spec(path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("dag_id: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "a job spec is a YAML mapping"),
        ("", "a job spec is a YAML mapping"),
    ],
)
def test_a_spec_that_is_not_a_mapping_names_the_file(tmp_path, text, says):
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    with pytest.raises(JobSpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}: ") and says in str(caught.value)


def test_load_specs_rejects_a_dag_id_used_twice(tmp_path):
    write_spec(tmp_path, VALID, name="a.yaml")
    write_spec(tmp_path, {**VALID, "title": "Copy"}, name="b.yaml")
    write_spec(tmp_path, {**VALID, "dag_id": "other"}, name="c.yaml")
    with pytest.raises(JobSpecError) as caught:
        load_specs(tmp_path)
    assert str(caught.value) == f"{tmp_path}: dag_id used by more than one spec: ['team_digest']"


def test_load_specs_reads_yaml_files_sorted_by_name(tmp_path):
    write_spec(tmp_path, {**VALID, "dag_id": "second"}, name="b.yaml")
    write_spec(tmp_path, {**VALID, "dag_id": "first"}, name="a.yaml")
    (tmp_path / "notes.txt").write_text("not a spec")
    assert [s.dag_id for s in load_specs(tmp_path)] == ["first", "second"]


def test_load_specs_names_the_broken_file(tmp_path):
    write_spec(tmp_path, VALID, name="a.yaml")
    broken = write_spec(tmp_path, without("title"), name="b.yaml")
    with pytest.raises(JobSpecError, match=rf"^{broken}: invalid job spec: field 'title'"):
        load_specs(tmp_path)


def test_the_shipped_job_specs_load():
    specs = {s.dag_id: s for s in load_specs(REPO / "include" / "jobs")}
    assert set(specs) == {"daily_digest", "weekly_newsletter"}
    for spec in specs.values():
        assert (REPO / "include" / "skills" / spec.skill / "SKILL.md").is_file(), spec.skill
        ZoneInfo(spec.timezone)
    daily = specs["daily_digest"]
    assert daily.timezone == "Europe/Berlin" and daily.period_days == 1
    assert daily.sources.names() == ["git", "github", "rss"]
    assert [c.type for c in daily.channels] == ["email", "slack", "s3"]
    assert daily.alert is not None and daily.alert.type == "slack"
    assert specs["weekly_newsletter"].period_days == 7

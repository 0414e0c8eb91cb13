"""A schedule that never falls on a team's own serving hour is found before the job is enabled."""

from __future__ import annotations

from datetime import UTC, datetime

from agentjobs.jobs.kinds.registry import fan_out_kind
from agentjobs.jobs.served import never_served
from agentjobs.jobs.spec import load_spec
from agentjobs.sources.teams import Team
from tests.conftest import REPO

BERLIN = Team(id="team-berlin", name="Berlin", timezone="Europe/Berlin", currency="EUR")
DHAKA = Team(id="team-dhaka", name="Dhaka", timezone="Asia/Dhaka", currency="BDT")  # UTC+6
START = datetime(2026, 12, 7, tzinfo=UTC)


def weekly_insights():
    spec = load_spec(REPO / "include" / "jobs" / "weekly-insights.yaml")
    return fan_out_kind(spec.kind), spec.kind_settings()


def test_the_shipped_hourly_weekend_schedule_serves_every_team():
    kind, settings = weekly_insights()
    assert never_served(kind, settings, [BERLIN, DHAKA], "0 * * * 6,0,1", "UTC", START) == []


def test_a_daily_3am_utc_schedule_never_serves_a_team_whose_sunday_9am_it_misses():
    kind, settings = weekly_insights()
    # 03:00 UTC is 09:00 in Dhaka (a Sunday run serves it) but 04:00 in Berlin: never its 09:00.
    assert never_served(kind, settings, [BERLIN, DHAKA], "0 3 * * *", "UTC", START) == ["team-berlin"]


def test_a_cron_with_too_many_runs_to_walk_reports_nobody():
    kind, settings = weekly_insights()
    assert never_served(kind, settings, [BERLIN], "* * * * *", "UTC", START) == []

"""weekly_insights' member clock without Airflow: over two weekends of the kind's own hourly
schedule, each member is due once a week at their own local 09:00 after the team's week has ended
(a half-hour zone, across the date line, without a zone), the team once at its own, and every
such run is of the team's one week."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from agentjobs.jobs.kinds.base import Member, Team
from agentjobs.jobs.kinds.weekly_insights import Settings, weekly_insights

KIND = weekly_insights
SETTINGS = Settings(member_local_time=True)
BERLIN = Team(id="team-berlin", name="Berlin", timezone="Europe/Berlin", currency="EUR")


def member(name: str, zone: str | None) -> Member:
    return Member(id=f"u-{name}", name=name, email=f"{name}@example.org", timezone=zone)


def scheduled(first: datetime, last: datetime) -> list[datetime]:
    """Every run of the kind's default schedule from `first` up to `last` (UTC)."""
    runs, it = [], croniter(KIND.default_schedule, first - timedelta(seconds=1))
    while (when := it.get_next(datetime)) <= last:
        runs.append(when.replace(tzinfo=UTC))
    return runs


def walk(
    team: Team, members: list[Member], first: datetime, last: datetime
) -> dict[str, list[tuple[str, str]]]:
    """Who is served at which run: name -> [(local day and time, week key)], the team as 'team'."""
    served: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for when in scheduled(first, last):
        week = KIND.period(team, when, SETTINGS).key
        if KIND.due(team, when, SETTINGS):
            served["team"].append((when.astimezone(ZoneInfo(team.timezone)).strftime("%a %d %H:%M"), week))
        for m in KIND.members_due(team, members, when, SETTINGS):
            zone = ZoneInfo(m.timezone or team.timezone)
            served[m.name].append((when.astimezone(zone).strftime("%a %d %H:%M"), week))
    return dict(served)


def test_over_two_weekends_each_member_is_due_once_a_week_at_their_own_nine():
    members = [member("priya", "Asia/Kolkata"), member("aroha", "Pacific/Auckland"), member("nozone", None)]
    served = walk(BERLIN, members, datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 12, 8, tzinfo=UTC))
    assert served == {
        "team": [("Sun 29 09:00", "2026-11-28"), ("Sun 06 09:00", "2026-12-05")],
        "nozone": [("Sun 29 09:00", "2026-11-28"), ("Sun 06 09:00", "2026-12-05")],  # the team's zone
        "priya": [("Sun 29 09:30", "2026-11-28"), ("Sun 06 09:30", "2026-12-05")],  # a half-hour zone
        # Auckland's Sunday 09:00 is Saturday 20:00 UTC, an hour before Berlin's week ends: Monday.
        "aroha": [("Mon 30 09:00", "2026-11-28"), ("Mon 07 09:00", "2026-12-05")],
    }


def test_a_member_far_west_of_the_team_waits_for_their_own_sunday_not_their_saturday():
    auckland = Team(id="team-akl", name="Auckland", timezone="Pacific/Auckland", currency="NZD")
    served = walk(
        auckland,
        [member("maria", "America/Los_Angeles")],
        datetime(2026, 11, 27, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    # The Auckland week is over at Saturday 03:00 in Los Angeles; Maria's Saturday 09:00 is not her Sunday.
    assert served == {"team": [("Sun 29 09:00", "2026-11-28")], "maria": [("Sun 29 09:00", "2026-11-28")]}


def test_a_member_whose_own_monday_nine_is_past_the_schedule_gets_it_with_the_team():
    new_york = Team(id="team-nyc", name="New York", timezone="America/New_York", currency="USD")
    served = walk(
        new_york,
        [member("hanako", "Asia/Tokyo")],
        datetime(2026, 11, 27, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    # Tokyo's Monday 09:00 is Monday 00:00 UTC, which the Saturday/Sunday schedule never runs:
    # Hanako is mailed with the team (23:00 in Tokyo), once, rather than never.
    assert served == {"team": [("Sun 29 09:00", "2026-11-28")], "hanako": [("Sun 29 23:00", "2026-11-28")]}


def test_without_member_local_time_every_member_is_due_with_the_team():
    members = [member("priya", "Asia/Kolkata"), member("aroha", "Pacific/Auckland")]
    for when in scheduled(datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)):
        due = KIND.members_due(BERLIN, members, when, Settings())
        assert due == (members if KIND.due(BERLIN, when, Settings()) else []), when

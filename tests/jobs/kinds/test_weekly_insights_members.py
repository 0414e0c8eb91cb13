"""weekly_insights' member clock without Airflow: over two weekends of the kind's own hourly
schedule, each member is due once a week at their own local 09:00 after the team's week has ended
(a half-hour zone, across the date line, without a zone, a Monday in UTC), the team once at its
own, and every such run is of the team's one week; by default, for every pair of UTC offsets;
with the team where a spec's own schedule misses the member's hour."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from croniter import croniter

from agentjobs.jobs.kinds.base import Member, Team
from agentjobs.jobs.kinds.weekly_insights import Settings, member_slot, weekly_insights

KIND = weekly_insights
SETTINGS = Settings()  # member_local_time is on unless a spec turns it off
BERLIN = Team(id="team-berlin", name="Berlin", timezone="Europe/Berlin", currency="EUR")


def member(name: str, zone: str | None) -> Member:
    return Member(id=f"u-{name}", name=name, email=f"{name}@example.org", timezone=zone)


def scheduled(first: datetime, last: datetime, schedule: str = KIND.default_schedule) -> list[datetime]:
    """Every run of `schedule` (UTC; the kind's default) from `first` up to `last`."""
    runs, it = [], croniter(schedule, first - timedelta(seconds=1))
    while (when := it.get_next(datetime)) <= last:
        runs.append(when.replace(tzinfo=UTC))
    return runs


def on_schedule(schedule: str) -> Settings:
    """The settings of a spec with its own `schedule` (UTC), as JobSpec validates its section."""
    return Settings.model_validate({}, context={"schedule": schedule, "timezone": "UTC"})


def walk(
    team: Team, members: list[Member], first: datetime, last: datetime, schedule: str = KIND.default_schedule
) -> dict[str, list[tuple[str, str]]]:
    """Who is served at which run of a spec with `schedule` (UTC; none: the kind's default):
    name -> [(local day and time, week key)], the team as 'team'."""
    settings = on_schedule(schedule)
    served: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for when in scheduled(first, last, schedule):
        week = KIND.period(team, when, settings).key
        if KIND.due(team, when, settings):
            served["team"].append((when.astimezone(ZoneInfo(team.timezone)).strftime("%a %d %H:%M"), week))
        for m in KIND.members_due(team, members, when, settings):
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


NEW_YORK = Team(id="team-nyc", name="New York", timezone="America/New_York", currency="USD")
HANAKO = member("hanako", "Asia/Tokyo")
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)  # 00:00 UTC: 09:00 in Tokyo, Sunday 19:00 in New York


def test_a_member_whose_own_monday_nine_is_a_monday_in_utc_gets_it_then_once():
    served = walk(NEW_YORK, [HANAKO], datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
    # Tokyo's Monday 09:00 is Monday 00:00 UTC, a run of the default schedule's Mondays; the New
    # York week is over at Sunday 14:00 in Tokyo, so her Sunday 09:00 was too early.
    assert served == {"team": [("Sun 29 09:00", "2026-11-28")], "hanako": [("Mon 30 09:00", "2026-11-28")]}


def test_a_spec_schedule_without_the_members_hour_mails_her_with_the_team_not_never():
    old = on_schedule("0 * * * 0,6")  # the kind's default before Mondays were added
    served = walk(
        NEW_YORK,
        [HANAKO, member("maria", "America/Los_Angeles")],
        datetime(2026, 11, 27, tzinfo=UTC),
        datetime(2026, 12, 2, tzinfo=UTC),
        "0 * * * 0,6",
    )
    assert served == {
        "team": [("Sun 29 09:00", "2026-11-28")],
        "hanako": [("Sun 29 23:00", "2026-11-28")],  # with the team, once, rather than never
        "maria": [("Sun 29 09:00", "2026-11-28")],  # her own hour is a run: on her own clock
    }
    # A run by hand at her own hour sends her nothing: she had it with the team.
    assert KIND.members_due(NEW_YORK, [HANAKO], MONDAY, old) == []
    assert on_schedule("0 * * * *").runs_at(MONDAY) and not old.runs_at(MONDAY)


def zones_by_offset() -> dict[timedelta, str]:
    """One IANA zone per UTC offset in use in January or July 2026 (UTC-12 .. UTC+14, the
    half- and three-quarter-hour ones too), so both sides of each DST change are met."""
    found: dict[timedelta, str] = {}
    for name in sorted(available_timezones()):
        if "/" not in name or name.startswith("SystemV/"):
            continue  # legacy aliases (EST5EDT, UTC) repeat the offsets of the named zones
        for month in (1, 7):
            offset = datetime(2026, month, 15, 12, tzinfo=UTC).astimezone(ZoneInfo(name)).utcoffset()
            assert offset is not None
            found.setdefault(offset, name)
    return found


def test_every_members_nine_is_an_hour_of_the_default_schedule_of_the_teams_one_week():
    by_offset = zones_by_offset()
    assert min(by_offset) == timedelta(hours=-12) and max(by_offset) == timedelta(hours=14)
    assert {timedelta(hours=5, minutes=30), timedelta(hours=5, minutes=45)} <= set(by_offset)
    zones = list(by_offset.values())
    latest = timedelta(0)  # the latest member's run after the Sunday's 00:00 UTC
    for team_zone in zones:
        team = Team(id="t", name="T", timezone=team_zone, currency="EUR")
        for sunday in (datetime(2026, 1, 18), datetime(2026, 7, 19)):
            team_nine = sunday.replace(hour=9, tzinfo=ZoneInfo(team_zone)).astimezone(UTC)
            # The hourly run in the team's 09:xx: 09:30 in a half-hour zone.
            team_run = team_nine + timedelta(minutes=-team_nine.minute % 60)
            assert SETTINGS.runs_at(team_run) and KIND.due(team, team_run, SETTINGS), (team_zone, sunday)
            week = KIND.period(team, team_run, SETTINGS)
            for zone in zones:
                slot = member_slot(team, member("m", zone), week.end, 0, SETTINGS)
                assert slot is not None and SETTINGS.runs_at(slot), (team_zone, zone, sunday, slot)
                # The member's run is of the team's same week, and it serves the member alone.
                assert KIND.period(team, slot, SETTINGS).key == week.key, (team_zone, zone, slot)
                assert KIND.members_due(team, [member("m", zone)], slot, SETTINGS), (team_zone, zone, slot)
                latest = max(latest, slot - sunday.replace(tzinfo=UTC))
    # Monday 11:00 UTC at the latest (a member at UTC-2 in a team at UTC-12): the schedule's Mondays.
    assert latest == timedelta(days=1, hours=11)


def test_with_member_local_time_false_every_member_is_due_with_the_team():
    off = Settings(member_local_time=False)
    members = [member("priya", "Asia/Kolkata"), member("aroha", "Pacific/Auckland")]
    for when in scheduled(datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)):
        due = KIND.members_due(BERLIN, members, when, off)
        assert due == (members if KIND.due(BERLIN, when, off) else []), when

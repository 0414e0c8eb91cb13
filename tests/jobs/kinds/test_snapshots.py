"""The fetch step of a fan-out kind without Airflow: which teams a run serves, in which order, and
each team's snapshot from the kind's own period and queries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from agentjobs.jobs.kinds.base import Member, Query, Team
from agentjobs.jobs.kinds.snapshots import due_teams, team_snapshot
from agentjobs.jobs.period import Period, period_for

WHEN = datetime(2026, 11, 30, 8, tzinfo=UTC)


class Settings(BaseModel):
    hour: int = 9


class Morning:
    """A kind due at `settings.hour` local time, covering the team's previous local day."""

    name: ClassVar[str] = "morning"

    def due(self, team: Team, when: datetime, settings: Settings) -> bool:
        return when.astimezone(ZoneInfo(team.timezone)).hour == settings.hour

    def period(self, team: Team, when: datetime, settings: Settings) -> Period:
        return period_for(when, team.timezone)

    def queries(self, team: Team, period: Period, settings: Settings) -> dict[str, Query]:
        return {"orders": Query("SELECT * FROM orders WHERE team_id = :team_id", {"team_id": team.id})}


def team(team_id: str, timezone: str) -> Team:
    return Team(id=team_id, name=team_id.title(), timezone=timezone, currency="EUR")


def member(member_id: str) -> Member:
    return Member(id=member_id, name=member_id, email=f"{member_id}@example.org", timezone="UTC")


def test_only_the_teams_due_are_served_in_team_id_order():
    teams = [
        (team("t-zurich", "Europe/Zurich"), [member("z")]),  # 09:00 local
        (team("t-tokyo", "Asia/Tokyo"), []),  # 17:00 local
        (team("t-berlin", "Europe/Berlin"), [member("b")]),  # 09:00 local
    ]
    due = due_teams(Morning(), Settings(), teams, WHEN)  # type: ignore[arg-type]
    assert [(t.id, [m.id for m in members]) for t, members in due] == [
        ("t-berlin", ["b"]),
        ("t-zurich", ["z"]),
    ]
    assert due_teams(Morning(), Settings(hour=17), iter(teams), WHEN)[0][0].id == "t-tokyo"  # type: ignore[arg-type]
    assert due_teams(Morning(), Settings(hour=3), teams, WHEN) == []  # type: ignore[arg-type]


def test_a_teams_snapshot_holds_what_its_queries_read_for_its_own_period():
    asked: list[dict[str, Query]] = []

    def read(queries: dict[str, Query]) -> dict[str, list[dict[str, Any]]]:
        asked.append(queries)
        return {name: [{"team": q.params["team_id"]}] for name, q in queries.items()}

    tokyo = team("t-tokyo", "Asia/Tokyo")
    snapshot = team_snapshot(Morning(), Settings(), tokyo, [member("m")], WHEN, read)  # type: ignore[arg-type]
    assert asked == [
        {"orders": Query("SELECT * FROM orders WHERE team_id = :team_id", {"team_id": "t-tokyo"})}
    ]
    assert snapshot.kind == "morning" and snapshot.team == tokyo and [m.id for m in snapshot.members] == ["m"]
    assert snapshot.tables == {"orders": [{"team": "t-tokyo"}]}
    # 08:00 UTC is 17:00 in Tokyo on the 30th: the run covers Tokyo's 29th, in Tokyo time.
    assert snapshot.period.key == date(2026, 11, 29).isoformat()
    assert snapshot.period.start.isoformat() == "2026-11-29T00:00:00+09:00"

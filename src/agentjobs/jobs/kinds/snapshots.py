"""The fetch step of a fan-out kind, without Airflow: which teams are due, and each one's snapshot.

`read` runs named queries and returns their rows as JSON values (the `sql` source does it
through an Airflow connection; tests pass a plain SQLAlchemy engine's reader).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from agentjobs.jobs.kinds.base import FanOutKind, Member, PeriodRef, Query, Team, TeamSnapshot

Reader = Callable[[dict[str, Query]], dict[str, list[dict[str, Any]]]]


def due_teams(
    kind: FanOutKind, settings: Any, teams: Iterable[tuple[Team, list[Member]]], when: datetime
) -> list[tuple[Team, list[Member]]]:
    """The teams the run at `when` serves, in team id order (the order of the mapped tasks)."""
    return sorted((pair for pair in teams if kind.due(pair[0], when, settings)), key=lambda p: p[0].id)


def team_snapshot(
    kind: FanOutKind, settings: Any, team: Team, members: list[Member], when: datetime, read: Reader
) -> TeamSnapshot:
    period = kind.period(team, when, settings)
    tables = read(kind.queries(team, period, settings))
    return TeamSnapshot(
        kind=kind.name, team=team, members=members, period=PeriodRef.of(period), tables=tables
    )

"""The fetch step of a fan-out kind, without Airflow: which teams are due, and each one's snapshot.

`read` runs named queries and returns their rows as JSON values (the `sql` source does it
through an Airflow connection; tests pass a plain SQLAlchemy engine's reader).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from agentjobs.jobs.inputs import (
    TEAM_TARGETS_INPUT,
    TEAMS_INPUT,
    USERS_INPUT,
    RowContractError,
    check_rows,
    kind_inputs,
    mapped,
    row_problems,
)
from agentjobs.jobs.kinds.base import FanOutKind, Member, PeriodRef, Query, Team, TeamSnapshot

Reader = Callable[[dict[str, Query]], dict[str, list[dict[str, Any]]]]


def due_teams(
    kind: FanOutKind, settings: Any, teams: Iterable[tuple[Team, list[Member]]], when: datetime
) -> list[tuple[Team, list[Member]]]:
    """The teams the run at `when` serves, in team id order (the order of the mapped tasks)."""
    return sorted((pair for pair in teams if kind.due(pair[0], when, settings)), key=lambda p: p[0].id)


def team_snapshot(
    kind: FanOutKind,
    settings: Any,
    team: Team,
    members: list[Member],
    when: datetime,
    read: Reader,
    mapping: Mapping[str, Any] | None = None,
) -> TeamSnapshot:
    """The team's snapshot, read through the spec's input `mapping` (None: the sample's SQL).

    RowContractError when a row breaks its input's contract (a NULL amount, a currency code of
    five letters): the team fails with it, and no row of it reaches the model.
    """
    period = kind.period(team, when, settings)
    inputs = kind_inputs(kind)
    tables = read(mapped(inputs, kind.queries(team, period, settings), mapping))
    check_rows(inputs, tables, team.id)
    team_rows = [team.model_dump(exclude={"email_list", "targets"})]
    target_rows = [{"team_id": team.id, **t.model_dump()} for t in team.targets]
    problems = (
        row_problems(TEAMS_INPUT, team_rows, team.id)
        + row_problems(USERS_INPUT, [m.model_dump() for m in members], team.id)
        + row_problems(TEAM_TARGETS_INPUT, target_rows, team.id)
    )
    if problems:
        raise RowContractError(
            "the team's own rows break the teams/users/team_targets contract: " + "; ".join(problems)
        )
    return TeamSnapshot(
        kind=kind.name, team=team, members=members, period=PeriodRef.of(period), tables=tables
    )

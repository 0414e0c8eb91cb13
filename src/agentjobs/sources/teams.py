"""Who a fan-out run is for and how the `sql` source asks for it: plain data, no Airflow.

These sit below sources/ (not in the job domain) because the `sql` source reads teams and
members with them; the kinds in jobs/kinds/ use them through jobs/kinds/base.py as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

# Built on first use, not at import: a DAG parse imports this module with the kinds and never
# validates a team (bench/dag_parse.py).
_RUN_TIME = ConfigDict(extra="forbid", defer_build=True, frozen=True)


class Team(BaseModel):
    """A row of the `teams` table: who a fan-out run is for, and where its artifact goes."""

    model_config = _RUN_TIME
    id: str
    name: str
    timezone: str  # IANA name: the team's own day, week and 09:00
    currency: str  # ISO 4217, e.g. EUR; amounts are integer minor units (cents; yen have none)
    slack_channel: str | None = None  # e.g. "#team-berlin"
    email_list: list[str] = []  # the team's own addresses (the `email_list` column, comma-separated)


class Member(BaseModel):
    """A row of the `users` table of one team."""

    model_config = _RUN_TIME
    id: str
    name: str
    # NULL where an import left it out: a member without an email gets no mail (the delivery logs
    # it); one without a time zone lives in the team's (jobs/kinds/overdue_reminders.member_zone).
    email: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class Query:
    """One parameterised query of the `sql` source: named binds (`:team_id`), never string formatting."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)


# The sample database's teams and users: the `sql` source's default read, and the default
# mapping of the `teams` / `users` inputs (jobs/inputs.py). Here, not in sources/sql.py, so the
# kinds' input declarations do not import the SQL reader (sqlglot) when a DAG file is parsed.
TEAMS_QUERY = Query("SELECT id, name, timezone, currency, slack_channel, email_list FROM teams ORDER BY id")
USERS_QUERY = Query("SELECT id, team_id, name, email, timezone FROM users ORDER BY team_id, id")

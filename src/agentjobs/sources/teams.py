"""Who a fan-out run is for and how the `sql` source asks for it: plain data, no Airflow.

These sit below sources/ (not in the job domain) because the `sql` source reads teams and
members with them; the kinds in jobs/kinds/ use them through jobs/kinds/base.py as before.
"""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

# Built on first use, not at import: a DAG parse imports this module with the kinds and never
# validates a team (bench/dag_parse.py).
_RUN_TIME = ConfigDict(extra="forbid", defer_build=True, frozen=True)


class TeamTarget(BaseModel):
    """A row of the optional `team_targets` input: one more place a team's artifact goes.

    `channel` is "slack" (target: a channel name or id) or "email" (target: addresses,
    comma-separated, one mail to all of them); anything else fails the team at its snapshot
    (jobs/inputs.py), so it is a plain str here and one bad row never fails the other teams."""

    model_config = _RUN_TIME
    channel: str
    target: str


class Team(BaseModel):
    """A row of the `teams` table: who a fan-out run is for, and where its artifact goes.

    Its own row gives one slack channel and one email list; `targets` (the `team_targets`
    input, when the spec maps it) adds more. `slack_channels` and `email_lists` are all of them,
    each once, the row's first: every one is a delivery of its own.
    """

    model_config = _RUN_TIME
    id: str
    name: str
    timezone: str  # IANA name: the team's own day, week and 09:00
    currency: str  # ISO 4217, e.g. EUR; amounts are integer minor units (cents; yen have none)
    slack_channel: str | None = None  # e.g. "#team-berlin"
    email_list: list[str] = []  # the team's own addresses (the `email_list` column, comma-separated)
    targets: list[TeamTarget] = []  # from `team_targets`, in its query's order

    @property
    def slack_channels(self) -> list[str]:
        """The row's channel and every slack target, each once: a list of one for the sample's teams."""
        found = [self.slack_channel] if self.slack_channel else []
        found += [t.target for t in self.targets if t.channel == "slack"]
        return list(dict.fromkeys(c for c in found if c))

    @property
    def email_lists(self) -> list[list[str]]:
        """The row's list and every email target, each once (as sorted addresses): one mail each."""
        found = [self.email_list] + [split_addresses(t.target) for t in self.targets if t.channel == "email"]
        unique = dict.fromkeys(tuple(sorted(addresses)) for addresses in found if addresses)
        return [list(addresses) for addresses in unique]


class Member(BaseModel):
    """A row of the `users` table of one team."""

    model_config = _RUN_TIME
    id: str
    name: str
    # NULL where an import left it out: a member without an email gets no mail (the delivery logs
    # it); one without a time zone lives in the team's (jobs/kinds/capabilities.member_zone).
    email: str | None = None
    timezone: str | None = None


def split_addresses(text: str | None) -> list[str]:
    """A comma-separated address list from a database row, as its non-empty addresses."""
    return [a.strip() for a in (text or "").split(",") if a.strip()]


@dataclass(frozen=True)
class Query:
    """One parameterised query of the `sql` source: named binds (`:team_id`), never string formatting."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)


def utc_naive(moment: datetime) -> datetime:
    """`moment` as the business tables store a timestamp, naive UTC: an aware one converted from
    its zone, a naive one taken as UTC already (`astimezone` would read it as the machine's
    local time). The `sql` source binds every datetime so; a kind's query window uses it too."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


# The sample database's teams and users: the `sql` source's default read, and the default
# mapping of the `teams` / `users` inputs (jobs/inputs.py). Here, not in sources/sql.py, so the
# kinds' input declarations do not import the SQL reader (sqlglot) when a DAG file is parsed.
TEAMS_QUERY = Query("SELECT id, name, timezone, currency, slack_channel, email_list FROM teams ORDER BY id")
USERS_QUERY = Query("SELECT id, team_id, name, email, timezone FROM users ORDER BY team_id, id")

"""weekly_insights: what changed in a team's money this week, in 3-5 bullets, every number checked.

Runs hourly on Saturdays, Sundays and Mondays UTC and serves each team at its own Sunday 09:00
(a half-hour zone such as Asia/Kolkata once, at 09:30). The week is the 7 local days before that
Sunday; the snapshot holds `weeks_back` more weeks so a comparison can reach back.

Members get their preview e-mail on their own clock (`member_local_time`, on by default;
capabilities.MembersOnOwnClock); the channel and the list stay at the team's 09:00. A member's
e-mail goes out at the first hourly run after the team's week has ended that is `local_hour` in
the member's zone (the team's where the users table has none, NULL) on the member's Sunday or
later: their own Sunday 09:00, or, for a member more than 9 hours east of the team (whose Sunday
morning comes before the team's week is over), their Monday 09:00, which may be a Monday in UTC
(Tokyo in a New York team: Monday 00:00 UTC), hence the Mondays of the schedule. Every such run
is of the team's one week (`period`: the latest team-local Sunday), so the snapshot, the artifact
and the ledger keys (period, member's address) are the same whichever run comes first: the model
is asked once, each member is mailed once, a clear or backfill sends nothing twice. A spec's own
schedule that has no run at a member's slot (e.g. the older "0 * * * 0,6", without Mondays)
sends that member's e-mail with the team's instead, rather than never. `member_local_time:
false`: every member with the team.

This module is what a DAG parse and the fetch need: the spec section (weekly_insights_settings.py),
the input, who is due and which week. The weeks' arithmetic, the prompts, the renderer and the
check (weekly_insights_run.py) load when a task first asks for them.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.insight_records import INSIGHT_RECORDS
from agentjobs.jobs.kinds.base import Member, Query, Team, TeamSnapshot, utc_naive
from agentjobs.jobs.kinds.capabilities import member_zone
from agentjobs.jobs.kinds.weekly_insights_settings import DEFAULT_SCHEDULE, TABLE, Settings
from agentjobs.jobs.kinds.weekly_insights_settings import aware as _aware
from agentjobs.jobs.period import Period, period_for
from agentjobs.jobs.writes import WriteTarget
from agentjobs.lazy_names import forwarded

if TYPE_CHECKING:  # annotations only: the tools' module and the run-time half load when a task runs
    from agentjobs.agent.tools import Tool
    from agentjobs.jobs.kinds.base import KindPlan, Rendered

SUNDAY = 6
SLOT_SEARCH = timedelta(days=7)  # a member's local_hour comes within a day (two over a DST gap)

TRANSACTIONS_SQL = (
    "SELECT id, occurred_at, kind, category, amount_cents, currency FROM transactions "
    "WHERE team_id = :team_id AND occurred_at >= :start AND occurred_at < :end "
    "ORDER BY occurred_at, id"
)

TX_COLUMNS = (
    Column("id", "text", meaning="the transaction's id"),
    Column("occurred_at", "timestamp", meaning="when it was booked (UTC)"),
    Column("kind", "text", meaning="'income' or 'expense'"),
    Column("category", "text", meaning="its category"),
    Column("amount_cents", "integer", meaning="the amount in minor units, positive"),
    Column("currency", "text", meaning="ISO 4217 code", check="currency"),
)
INPUTS = (
    Input(
        TABLE,
        "the team's transactions of the weeks compared",
        TX_COLUMNS,
        ("team_id", "start", "end"),
        TRANSACTIONS_SQL,
        "src.team_id = :team_id AND src.occurred_at >= :start AND src.occurred_at < :end",
        "src.occurred_at, src.id",
        ("team_id",),
    ),
)


def member_slot(
    team: Team, member: Member, end: datetime, minute: int, settings: Settings
) -> datetime | None:
    """The run (UTC, at `minute` past each hour) that mails `member` the team's week ending at
    `end`: the first at or after `end` in the member's `local_hour` on the member's Sunday or
    later (None only if a zone skipped that hour for a week)."""
    tz = ZoneInfo(member_zone(member, team))
    team_sunday = end.astimezone(ZoneInfo(team.timezone)).date()
    slot = end.astimezone(UTC).replace(minute=minute, second=0, microsecond=0)
    if slot < end:
        slot += timedelta(hours=1)
    while slot < end + SLOT_SEARCH:
        local = slot.astimezone(tz)
        # The member's Saturday 09:00 may come after a team's week far east has ended: not yet.
        if local.hour == settings.local_hour and local.date() >= team_sunday:
            return slot
        slot += timedelta(hours=1)
    return None


class WeeklyInsights:
    name: ClassVar[str] = "weekly_insights"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS  # the datasets it reads (jobs/inputs.py)
    # What was sent, per team and week, kept in the database too (jobs/insight_records.py).
    writes: ClassVar[tuple[WriteTarget, ...]] = (INSIGHT_RECORDS,)
    settings_model: ClassVar[type[BaseModel]] = Settings
    artifact_file: ClassVar[str] = "insights.md"
    default_schedule: ClassVar[str] = DEFAULT_SCHEDULE  # every team's and every member's hour

    def due(self, team: Team, when: datetime, settings: Settings) -> bool:
        moment = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        local = moment.astimezone(ZoneInfo(team.timezone))
        # An hourly run lands once in the local hour: at 09:30 in a half-hour zone.
        return local.weekday() == 6 and local.hour == settings.local_hour

    def period(self, team: Team, when: datetime, settings: Settings) -> Period:
        """The team's week that ended at the latest team-local Sunday 00:00 at or before `when`:
        the same week for the team's run and for every member's run after it (a Monday too)."""
        tz = ZoneInfo(team.timezone)
        local_day = _aware(when).astimezone(tz).date()
        sunday = local_day - timedelta(days=(local_day.weekday() - SUNDAY) % 7)
        return period_for(datetime.combine(sunday, time(12), tzinfo=tz), team.timezone, 7)

    def members_due(
        self, team: Team, members: list[Member], when: datetime, settings: Settings
    ) -> list[Member]:
        moment = _aware(when).replace(second=0, microsecond=0)
        team_run = self.due(team, moment, settings)
        if not settings.member_local_time:
            return members if team_run else []
        end = self.period(team, moment, settings).end
        due = []
        for member in members:
            slot = member_slot(team, member, end, moment.minute, settings)
            if slot != moment and not team_run:
                continue  # neither the member's run nor the team's: the common case, no cron read
            # A slot the job's schedule never runs (a spec's own cron): with the team, not never.
            own_clock = slot is not None and settings.runs_at(slot)
            if (own_clock and slot == moment) or (not own_clock and team_run):
                due.append(member)
        return due

    def member_stamp(self, snapshot: TeamSnapshot, member: Member) -> str:
        return snapshot.period.key  # the team's week, whoever reads it

    def queries(self, team: Team, period: Period, settings: Settings) -> dict[str, Query]:
        tz = ZoneInfo(team.timezone)
        first = period.start.astimezone(tz).date() - timedelta(weeks=settings.weeks_back)
        start = datetime.combine(first, time(0), tzinfo=tz)
        params = {"team_id": team.id, "start": utc_naive(start), "end": utc_naive(period.end)}
        return {TABLE: Query(TRANSACTIONS_SQL, params)}

    # ------------------------------------------------------------------ at run time (weekly_insights_run.py)

    def tools(self, snapshot: TeamSnapshot, settings: Settings) -> list[Tool]:
        from agentjobs.jobs.kinds import weekly_insights_run

        return weekly_insights_run.tools(snapshot, settings)

    def plan(
        self, snapshot: TeamSnapshot, settings: Settings, mode: Literal["loop", "structured"]
    ) -> KindPlan:
        from agentjobs.jobs.kinds import weekly_insights_run

        return weekly_insights_run.plan(snapshot, settings, mode)

    def render(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: Settings, title: str
    ) -> Rendered:
        from agentjobs.jobs.kinds import weekly_insights_run

        return weekly_insights_run.render(snapshot, answer, settings, title)

    def check(
        self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: Settings
    ) -> None:
        from agentjobs.jobs.kinds import weekly_insights_run

        weekly_insights_run.check(snapshot, markdown, result, settings)

    def insights(
        self, snapshot: TeamSnapshot, result: dict[str, Any], settings: Settings
    ) -> list[dict[str, Any]]:
        """The validated insights as records ({text, metric, numbers}, in the order sent)."""
        from agentjobs.jobs.kinds import weekly_insights_run

        return weekly_insights_run.insights(snapshot, result, settings)

    def preview(self, markdown: str) -> str:
        from agentjobs.jobs.kinds import weekly_insights_run

        return weekly_insights_run.preview(markdown)


weekly_insights = WeeklyInsights()

# Names of the run-time half that callers import from here (tests, scenarios): they load it then.
__getattr__ = forwarded(
    __name__,
    "agentjobs.jobs.kinds.weekly_insights_run",
    frozenset({"Comparison", "Weeks", "plain", "tools", "week_name", "NO_TRANSACTIONS"}),
)

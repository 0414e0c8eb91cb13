"""The `overdue_reminders` kind: each user, at 09:00 in the user's own time zone, is reminded of
the unpaid invoices they own that are due in under 3 days, or already overdue.

One hourly DAG (UTC) serves, at each hour, the members whose local time is 09:00 then
(`due_members`); a team is served when one of its members is. The list is code's alone: the
model is asked nothing (`KindPlan.answer`), the artifact is rendered from the snapshot and
the check holds it to exactly that rendering. Each due member with something to pay gets
their own section by email (`member_messages`), one ledger row per (member, member's local
day): a retry, clear or backfill never reminds the same invoice to the same user twice a day.
An unpaid invoice without a due date is read too (a company's table may hold some): it is not
due, so no one is reminded of it, and the team's artifact and the task log say how many were
left out and why, instead of the whole team failing on the NULL.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.base import (
    CheckFailed,
    Member,
    Query,
    Rendered,
    Team,
    TeamSnapshot,
    check_heading,
)
from agentjobs.jobs.kinds.capabilities import member_zone
from agentjobs.jobs.period import Period

if TYPE_CHECKING:  # annotations only: the plan's module loads when a task runs
    from agentjobs.jobs.kinds.base import KindPlan

log = logging.getLogger(__name__)

ARTIFACT_FILE = "reminders.md"
UNDATED_LISTED = 10  # ids of invoices without a due date named in the artifact
# Unpaid invoices of the team due before the latest day any member's window can reach: a member's
# local date is at most one day after the team's, so team date + horizon + 1 bounds every window.
# Those without a due date are read as well, to be counted as not reminded (not silently dropped).
INVOICES_SQL = (
    "SELECT i.id, i.number, i.owner_user_id, i.due_on, i.amount_cents, i.currency, c.name AS customer_name "
    "FROM invoices i LEFT JOIN customers c ON c.id = i.customer_id "
    "WHERE i.team_id = :team_id AND i.status = 'unpaid' AND i.paid_at IS NULL "
    "AND (i.due_on < :before OR i.due_on IS NULL) "
    "ORDER BY i.due_on, i.id"
)

INPUTS = (
    Input(
        "invoices",
        "the team's unpaid invoices due before the horizon, and those without a due date",
        (
            Column("id", "text"),
            Column("number", "text", meaning="the invoice number people know it by"),
            Column("owner_user_id", "text", meaning="the member who is reminded"),
            Column(
                "due_on",
                "date",
                nullable=True,
                meaning="NULL: no due date; never reminded, counted in the run's reminders.md",
            ),
            Column("amount_cents", "integer", meaning="the amount in minor units"),
            Column("currency", "text", meaning="ISO 4217 code", check="currency"),
            Column("customer_name", "text", nullable=True, personal=True),
        ),
        ("team_id", "before"),
        INVOICES_SQL,
        "src.team_id = :team_id AND (src.due_on < :before OR src.due_on IS NULL)",
        "src.due_on, src.id",
        ("team_id",),
    ),
)


class ReminderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    local_hour: int = Field(9, ge=0, le=23)  # in each member's own time zone
    horizon_days: int = Field(3, ge=1, le=31)  # due_on in [today, today + horizon): "in under 3 days"
    # Overdue unpaid invoices (due_on before today) are reminded too: they need paying most.
    include_overdue: bool = True


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def serves_local_hour(timezone: str, when: datetime, hour: int) -> bool:
    """Whether `when` is the one hourly instant of its local day that is `hour` o'clock in `timezone`.

    Across a DST change the local day still has exactly one: the repeated hour of a fall-back
    counts once (its first pass), and on a spring-forward day whose `hour` does not exist the
    first hour after the gap serves instead.
    """
    tz = ZoneInfo(timezone)
    local = _aware(when).astimezone(tz)
    if local.fold:
        return False
    if local.hour == hour:
        return True
    wall = datetime.combine(local.date(), time(hour))
    exists = wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall
    return not exists and local.hour == hour + 1


def local_day(timezone: str, when: datetime) -> date:
    return _aware(when).astimezone(ZoneInfo(timezone)).date()


def member_invoices(
    snapshot: TeamSnapshot, member: Member, settings: ReminderSettings
) -> list[dict[str, Any]]:
    """The member's own unpaid invoices due in under `horizon_days` of their local today (and
    the overdue ones), oldest due first."""
    today = local_day(member_zone(member, snapshot.team), snapshot.period.start)
    before = today + timedelta(days=settings.horizon_days)
    found = []
    for row in snapshot.tables.get("invoices", []):
        if row.get("due_on") is None:
            continue  # no due date: nothing to remind of, and no day to remind on
        due_on = date.fromisoformat(str(row["due_on"])[:10])
        if row.get("owner_user_id") != member.id or due_on >= before:
            continue
        if due_on < today and not settings.include_overdue:
            continue
        found.append(row)
    return sorted(found, key=lambda r: (str(r["due_on"])[:10], str(r["id"])))


def undated_invoices(snapshot: TeamSnapshot) -> list[dict[str, Any]]:
    """The served members' unpaid invoices without a due date: not due, so in no reminder, but
    counted and named in the team's artifact (a finance team must know they were left out)."""
    served = {m.id for m in snapshot.members}
    rows = snapshot.tables.get("invoices", [])
    return sorted(
        (r for r in rows if r.get("due_on") is None and r.get("owner_user_id") in served),
        key=lambda r: str(r["id"]),
    )


def _invoices(n: int) -> str:
    return f"{n} unpaid invoice{'s' if n != 1 else ''}"


def undated_line(rows: list[dict[str, Any]]) -> str:
    named = ", ".join(f"`{_code(str(r['id']))}`" for r in rows[:UNDATED_LISTED])
    more = f" and {len(rows) - UNDATED_LISTED} more" if len(rows) > UNDATED_LISTED else ""
    return f"Not reminded: {_invoices(len(rows))} without a due date (no day to remind on): {named}{more}."


def hour_period(timezone: str, when: datetime) -> Period:
    """The UTC hour starting at `when` (rounded down), keyed by its local date in `timezone`."""
    start = _aware(when).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return Period(day=local_day(timezone, start), start=start, end=start + timedelta(hours=1))


def _when_due(due_on: date, today: date) -> str:
    days = (due_on - today).days
    if days < 0:
        return f"overdue by {-days} day{'s' if days != -1 else ''}"
    if days == 0:
        return "due today"
    return f"due in {days} day{'s' if days != 1 else ''}"


def _code(text: str) -> str:
    from agentjobs.jobs.markdown_text import one_line

    return one_line(text).replace("`", "'")


def member_heading(member: Member, team: Team, today: date) -> str:
    from agentjobs.jobs.markdown_text import as_text

    return f"## {as_text(member.name)} ({as_text(member_zone(member, team))}, {today.isoformat()})"


def member_section(snapshot: TeamSnapshot, member: Member, settings: ReminderSettings) -> list[str]:
    from agentjobs.jobs.markdown_text import as_text
    from agentjobs.jobs.numbers import format_amount  # run time: a DAG parse formats no amount

    today = local_day(member_zone(member, snapshot.team), snapshot.period.start)
    rows = member_invoices(snapshot, member, settings)
    lines = [member_heading(member, snapshot.team, today), ""]
    if not rows:
        return [*lines, f"Nothing due in the next {settings.horizon_days} days: no reminder is sent.", ""]
    count = f"{len(rows)} unpaid invoice{'s' if len(rows) != 1 else ''}"
    lines += [f"{count} of yours to follow up today:", ""]
    for row in rows:
        due_on = date.fromisoformat(str(row["due_on"])[:10])
        customer = as_text(str(row.get("customer_name") or row.get("customer_id") or "unknown customer"))
        amount = (
            "amount unknown"  # NULL where an import failed: the reminder still names the invoice
            if row.get("amount_cents") is None
            else format_amount(int(row["amount_cents"]), str(row.get("currency") or snapshot.team.currency))
        )
        lines.append(
            f"- `{_code(str(row['id']))}` {as_text(str(row.get('number') or ''))} — {customer}: {amount}, "
            f"due {due_on.isoformat()} ({_when_due(due_on, today)})"
        )
    return [*lines, ""]


class OverdueRemindersKind:
    """Hourly in UTC; each member is served once a local day, at their own `local_hour`."""

    name: ClassVar[str] = "overdue_reminders"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS  # the datasets it reads (jobs/inputs.py)
    settings_model: ClassVar[type[BaseModel]] = ReminderSettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "0 * * * *"

    # ------------------------------------------------------------------ who, when

    def due_members(
        self, team: Team, members: list[Member], when: datetime, settings: ReminderSettings
    ) -> list[Member]:
        """The members whose own local time is `local_hour` at `when` (the fetch serves a team
        when this is not empty, whatever `due` says)."""
        return [m for m in members if serves_local_hour(member_zone(m, team), when, settings.local_hour)]

    def due(self, team: Team, when: datetime, settings: ReminderSettings) -> bool:
        """Without the members at hand (`agentjobs run` picking an hour): the team's own 09:00,
        when its members in the team's time zone are due."""
        return serves_local_hour(team.timezone, when, settings.local_hour)

    def period(self, team: Team, when: datetime, settings: ReminderSettings) -> Period:
        """The one hour this run serves; keyed by the team's local date (the run's folder). Each
        member's reminder is keyed by the member's own local date (`member_day`)."""
        return hour_period(team.timezone, when)

    def queries(self, team: Team, period: Period, settings: ReminderSettings) -> dict[str, Query]:
        before = period.day + timedelta(days=settings.horizon_days + 1)
        return {"invoices": Query(INVOICES_SQL, {"team_id": team.id, "before": before})}

    def member_day(self, snapshot: TeamSnapshot, member: Member) -> str:
        return local_day(member_zone(member, snapshot.team), snapshot.period.start).isoformat()

    # ------------------------------------------------------------------ no model

    def plan(
        self, snapshot: TeamSnapshot, settings: ReminderSettings, mode: Literal["loop", "structured"]
    ) -> KindPlan:
        from agentjobs.jobs.kinds.base import KindPlan  # run time: a DAG parse plans no run

        undated = undated_invoices(snapshot)
        if undated:  # the artifact says so too (undated_line); ids only, never a customer's name
            log.warning(
                "%s: %s without a due date %s not reminded (no day to remind on): %s",
                snapshot.team.id,
                _invoices(len(undated)),
                "is" if len(undated) == 1 else "are",
                ", ".join(str(r["id"]) for r in undated[:UNDATED_LISTED])
                + (f" and {len(undated) - UNDATED_LISTED} more" if len(undated) > UNDATED_LISTED else ""),
            )
        return KindPlan(
            prompt="",
            answer={"path": ARTIFACT_FILE, "items": self.items(snapshot, settings)},
            answer_reason="the reminders are listed by code",
        )

    def items(self, snapshot: TeamSnapshot, settings: ReminderSettings) -> int:
        return sum(len(member_invoices(snapshot, m, settings)) for m in snapshot.members)

    # ------------------------------------------------------------------ the artifact

    def heading(self, snapshot: TeamSnapshot, title: str) -> str:
        from agentjobs.jobs.markdown_text import as_text, one_line

        return f"# {one_line(title)} — {as_text(snapshot.team.name)}, {snapshot.period.key}"

    def expected(self, snapshot: TeamSnapshot, settings: ReminderSettings, title_line: str) -> str:
        members = sorted(snapshot.members, key=lambda m: (m.name, m.id))
        reminded = [m for m in members if member_invoices(snapshot, m, settings)]
        at = snapshot.period.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            title_line,
            "",
            f"{len(reminded)} of {len(members)} member{'s' if len(members) != 1 else ''} due at {at} "
            f"{'has' if len(reminded) == 1 else 'have'} invoices to follow up "
            f"({self.items(snapshot, settings)} in all).",
            "",
        ]
        undated = undated_invoices(snapshot)
        if undated:
            lines += [undated_line(undated), ""]
        for member in members:
            lines += member_section(snapshot, member, settings)
        return "\n".join(lines)

    def render(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: ReminderSettings, title: str
    ) -> Rendered:
        markdown = self.expected(snapshot, settings, self.heading(snapshot, title))
        return Rendered(markdown, {"path": ARTIFACT_FILE, "items": self.items(snapshot, settings)})

    def check(
        self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: ReminderSettings
    ) -> None:
        from agentjobs.jobs.markdown_text import as_text

        suffix = f" — {as_text(snapshot.team.name)}, {snapshot.period.key}"
        first = check_heading(markdown, ARTIFACT_FILE, suffix)
        if markdown != self.expected(snapshot, settings, first):
            raise CheckFailed(f"{ARTIFACT_FILE} is not the list of unpaid invoices of the snapshot")
        items = self.items(snapshot, settings)
        if result.get("items") != items:
            raise CheckFailed(f"the result says {result.get('items')!r} items; the snapshot has {items}")

    def preview(self, markdown: str) -> str:
        lines = [line for line in markdown.splitlines() if line.strip()]
        return lines[1].strip() if len(lines) > 1 else ""

    # ------------------------------------------------------------------ per-member delivery

    def member_messages(
        self, snapshot: TeamSnapshot, markdown: str, settings: ReminderSettings
    ) -> dict[str, str]:
        """Each due member with something to pay: their own section of the validated artifact
        (cut from it, so exactly what was checked is sent). Nothing due: no message."""
        from agentjobs.jobs.markdown_text import as_text

        lines = markdown.split("\n")
        messages: dict[str, str] = {}
        for member in snapshot.members:
            if not member_invoices(snapshot, member, settings):
                continue
            today = local_day(member_zone(member, snapshot.team), snapshot.period.start)
            heading = member_heading(member, snapshot.team, today)
            if heading not in lines:
                raise CheckFailed(f"{ARTIFACT_FILE} has no section for member {member.id!r}")
            start = lines.index(heading)
            end = next((n for n in range(start + 1, len(lines)) if lines[n].startswith("## ")), len(lines))
            section = "\n".join(lines[start + 1 : end]).strip()
            # The greeting keeps a member's message distinct from the team's artifact, which
            # the ledger's "kept as sent" check compares by hash.
            messages[member.id] = f"Hello {as_text(member.name)},\n\n{section}\n"
        return messages


KIND = OverdueRemindersKind()

__all__ = ["ARTIFACT_FILE", "KIND", "OverdueRemindersKind", "ReminderSettings", "serves_local_hour"]

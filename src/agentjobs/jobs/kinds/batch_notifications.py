"""The `batch_notifications` kind: a team's new events, batched per category, one summary a window.

The `events` table records what happened to a team's records (a receipt matched, a transaction
created, an invoice paid or overdue, a recurring invoice coming up). Nobody wants one message per
event, so each category has a window aligned to the UTC clock (`windows`, minutes; 0 is
"immediate", i.e. the next run): the DAG runs every `run_every_minutes` (5), and the run at T
serves, per team, every category whose window closes at T (T's minute of the day is a multiple
of the window). A team gets ONE summary per run that found something, and nothing otherwise. An
immediate event waits at most one step (5 minutes) plus the run's own latency; a 60-minute one
at most an hour.

Events are claimed by id, not selected by time. Time only bounds the read: the fetch reads the
team's events of the last `lookback_hours` before T; the claims ledger (agentjobs.delivery.claims,
in the ledger database beside the delivery ledger) then takes, in one transaction, every read
event of a closing category that no window has yet, under the window's key, and the claimed rows
are the run's snapshot. So:
- an event inserted after its window ran (late) is in the next window of its category: a claim
  is by id, and its id is still unclaimed;
- an event is never in two summaries: the claims ledger is unique on (team, event id);
- a retry, clear or refetch of a window re-reads that window's claim (the window row is written
  once, with its claims, in the same transaction), so it renders the same summary and the
  delivery ledger, keyed by the window, sends it once. A killed run loses nothing: either the
  claim committed (and the retry re-reads it) or it did not (and the retry claims afresh).
The claim lives in the ledger database, not the business one: the business connection stays
read-only (the sql source never writes), and the claim commits in the same database as the
deliveries it leads to. An event inserted more than `lookback_hours` after it occurred is never
read, so never notified: the bound is the price of not scanning the whole table every 5 minutes.

A member's preview e-mail (`team_delivery.member_preview`) goes out with the team's summary, at
the window's close: a window is one instant everywhere, and holding an immediate event back to
a member's morning would defeat it. What the member's own time zone changes is how the e-mail
names the window (`member_stamp`: "2026-11-30 15:40 Asia/Kolkata"; the team's zone where the
users table has none); its ledger row is keyed by the window and the member's address, so each
member gets a window once whatever reruns.

The counts and the lists are code's. With `summary: model` the model adds one sentence; the
renderer drops it when it states a number that is not one of the counts (numbers.unsupported
_numbers), names a category the window lacks or a name in no claimed row (jobs/names.py), and
the check refuses an artifact that still has one. Default `none`: no model call.

This module is what a DAG parse and the fetch need: the spec section
(batch_notifications_settings.py), the input, the windows and the claim. The counts, the
prompt, the renderer and the check (batch_notifications_run.py) load when a task first asks.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.base import Member, Query, Team, TeamSnapshot
from agentjobs.jobs.kinds.batch_notifications_settings import (
    ARTIFACT_FILE,
    CANDIDATES,
    EVENTS,
    Settings,
    window_key,
)
from agentjobs.jobs.kinds.batch_notifications_settings import aware as _aware
from agentjobs.jobs.kinds.capabilities import member_zone
from agentjobs.jobs.period import Period
from agentjobs.lazy_names import forwarded

if TYPE_CHECKING:  # annotations only: the run-time half loads when a task runs
    from agentjobs.jobs.kinds.base import KindPlan, Rendered

EVENTS_SQL = (
    "SELECT id, occurred_at, category, record_id FROM events "
    "WHERE team_id = :team_id AND occurred_at >= :since AND occurred_at < :end "
    "ORDER BY occurred_at, id"
)

INPUTS = (
    Input(
        CANDIDATES,
        "the team's events of the lookback, each a notification to batch",
        (
            Column("id", "integer", meaning="the event's id (the claims ledger keys on it)"),
            Column("occurred_at", "timestamp", meaning="when it happened (UTC)"),
            Column("category", "text", meaning="the batching window's category"),
            # NULL where an import lost it: the event is still counted, its line says "no record id".
            Column("record_id", "text", nullable=True, meaning="the record the event is about"),
        ),
        ("team_id", "since", "end"),
        EVENTS_SQL,
        "src.team_id = :team_id AND src.occurred_at >= :since AND src.occurred_at < :end",
        "src.occurred_at, src.id",
        ("team_id",),
    ),
)


# ------------------------------------------------------------------ windows, in code


def window_end(when: datetime, settings: Settings) -> datetime:
    """The step instant a run at `when` serves: a manual run at 10:03 serves the 10:00 window
    (already claimed by the scheduled run, so it re-reads it and sends nothing new)."""
    moment = _aware(when).replace(second=0, microsecond=0)
    return moment - timedelta(minutes=moment.minute % settings.run_every_minutes)


def closing(end: datetime, settings: Settings) -> list[str]:
    """The categories whose window closes at `end`, in the configured order."""
    minute = end.hour * 60 + end.minute
    return [c for c, minutes in settings.windows.items() if minutes == 0 or minute % minutes == 0]


def claimable(snapshot: TeamSnapshot, settings: Settings) -> list[dict[str, Any]]:
    """The read events the window may claim: of a category closing at its end, before its end.
    (Whether another window has one already is the claims ledger's to say.)"""
    end = snapshot.period.end
    closed = set(closing(end, settings))
    return [
        row
        for row in snapshot.tables.get(CANDIDATES, [])
        if row.get("category") in closed and _utc(row["occurred_at"]) < end
    ]


def unknown_categories(snapshot: TeamSnapshot, settings: Settings) -> Counter[str]:
    """Read events of a category with no window: never claimed; the fetch logs them."""
    return Counter(
        str(row.get("category"))
        for row in snapshot.tables.get(CANDIDATES, [])
        if row.get("category") not in settings.windows
    )


def with_claimed(snapshot: TeamSnapshot, claimed: list[dict[str, Any]]) -> TeamSnapshot:
    """The snapshot the summary is made of: the window's claimed events, and nothing read around them."""
    from agentjobs.jobs.record_ids import id_order

    # Ids may be uuids or text (a company's own events); integer ids still sort as numbers.
    rows = sorted(claimed, key=lambda r: (str(r["occurred_at"]), id_order(r["id"])))
    return snapshot.model_copy(update={"tables": {EVENTS: rows}})


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return _aware(moment)


# ------------------------------------------------------------------ the kind


class BatchNotifications:
    """Every `run_every_minutes` (UTC); every team each run, served when it has new events."""

    name: ClassVar[str] = "batch_notifications"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS  # the datasets it reads (jobs/inputs.py)
    settings_model: ClassVar[type[BaseModel]] = Settings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "*/5 * * * *"

    def due(self, team: Team, when: datetime, settings: Settings) -> bool:
        return True  # the immediate categories close at every run; a team with nothing is skipped

    def period(self, team: Team, when: datetime, settings: Settings) -> Period:
        from agentjobs.jobs.kinds.batch_notifications_run import WindowPeriod  # the fetch's, not parse's

        end = window_end(when, settings)
        return WindowPeriod(day=end.date(), start=end - timedelta(hours=settings.lookback_hours), end=end)

    def queries(self, team: Team, period: Period, settings: Settings) -> dict[str, Query]:
        params = {"team_id": team.id, "since": period.start, "end": period.end}
        return {CANDIDATES: Query(EVENTS_SQL, params)}

    def members_due(
        self, team: Team, members: list[Member], when: datetime, settings: Settings
    ) -> list[Member]:
        return members  # a window closes at one instant everywhere: every member with the team

    def member_stamp(self, snapshot: TeamSnapshot, member: Member) -> str:
        zone = member_zone(member, snapshot.team)
        return f"{snapshot.period.end.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"

    def serving_instant(self, team: Team, day: Any, settings: Settings) -> datetime:
        """`agentjobs run`: the window at the end of `day` (UTC midnight closes every category),
        which claims the day's events of the lookback that no window has yet."""
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)

    # ------------------------------------------------------------------ the claim (fetch)

    claimable = staticmethod(claimable)
    with_claimed = staticmethod(with_claimed)
    unknown_categories = staticmethod(unknown_categories)

    # ---------------------------------------------------------- at run time (batch_notifications_run.py)

    def plan(
        self, snapshot: TeamSnapshot, settings: Settings, mode: Literal["loop", "structured"]
    ) -> KindPlan:
        from agentjobs.jobs.kinds import batch_notifications_run

        return batch_notifications_run.plan(snapshot, settings, mode)

    def heading(self, snapshot: TeamSnapshot, title: str) -> str:
        from agentjobs.jobs.kinds import batch_notifications_run

        return batch_notifications_run.heading(snapshot, title)

    def body(self, snapshot: TeamSnapshot, settings: Settings) -> list[str]:
        from agentjobs.jobs.kinds import batch_notifications_run

        return batch_notifications_run.body(snapshot, settings)

    def render(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: Settings, title: str
    ) -> Rendered:
        from agentjobs.jobs.kinds import batch_notifications_run

        return batch_notifications_run.render(snapshot, answer, settings, title)

    def check(
        self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: Settings
    ) -> None:
        from agentjobs.jobs.kinds import batch_notifications_run

        batch_notifications_run.check(snapshot, markdown, result, settings)

    def preview(self, markdown: str) -> str:
        from agentjobs.jobs.kinds import batch_notifications_run

        return batch_notifications_run.preview(markdown)


KIND = BatchNotifications()

# Names of the run-time half that callers import from here (tests, scenarios): they load it then.
__getattr__ = forwarded(
    __name__,
    "agentjobs.jobs.kinds.batch_notifications_run",
    frozenset({"LABELS", "Counts", "Label", "WindowPeriod", "counts", "headline"}),
)


__all__ = [
    "ARTIFACT_FILE",
    "EVENTS",
    "KIND",
    "BatchNotifications",
    "Settings",
    "closing",
    "window_end",
    "window_key",
]

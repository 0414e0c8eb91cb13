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
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from agentjobs.agent.scrub import scrub
from agentjobs.business.categories import EVENT_CATEGORIES
from agentjobs.jobs import numbers
from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.base import (
    CheckFailed,
    KindPlan,
    Member,
    Query,
    Rendered,
    Team,
    TeamSnapshot,
    check_heading,
)
from agentjobs.jobs.kinds.capabilities import member_zone
from agentjobs.jobs.markdown_text import as_text, one_line, unescape
from agentjobs.jobs.names import Names
from agentjobs.jobs.period import Period
from agentjobs.jobs.record_ids import id_order

ARTIFACT_FILE = "notifications.md"
CANDIDATES = "candidates"  # the events read (what the claim chooses from)
EVENTS = "events"  # the events this window claimed: the only table the summary reads
SUMMARY_MAX = 200  # characters of the model's one sentence
DAY_MINUTES = 24 * 60
WINDOW_KEY_FORMAT = "%Y-%m-%dT%H%MZ"  # a folder name and the ledger's window: no ':'

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

DEFAULT_WINDOWS = {
    "receipt_matched": 0,
    "document_matched": 0,
    "transaction_created": 10,
    "invoice_paid": 10,
    "invoice_overdue": 30,
    "recurring_invoice_upcoming": 60,
}


@dataclass(frozen=True)
class Label:
    one: str  # "new transaction"
    many: str  # "new transactions"
    record: tuple[str, str]  # what the headline counts: ("transaction", "transactions")


LABELS = {
    "transaction_created": Label("new transaction", "new transactions", ("transaction", "transactions")),
    "invoice_paid": Label("invoice paid", "invoices paid", ("invoice", "invoices")),
    "invoice_overdue": Label("invoice now overdue", "invoices now overdue", ("invoice", "invoices")),
    "recurring_invoice_upcoming": Label(
        "recurring invoice coming up", "recurring invoices coming up", ("invoice", "invoices")
    ),
    "receipt_matched": Label("receipt matched", "receipts matched", ("receipt", "receipts")),
    "document_matched": Label("document matched", "documents matched", ("document", "documents")),
}


class Settings(BaseModel):
    """The spec's `batch_notifications` section."""

    model_config = ConfigDict(extra="forbid")
    # Must match the schedule's step (the default schedule is every 5 minutes).
    run_every_minutes: Annotated[StrictInt, Field(ge=1, le=60)] = 5
    # category -> window in minutes, aligned to the UTC clock; 0: immediate (the next run).
    windows: dict[str, StrictInt] = Field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    lookback_hours: Annotated[StrictInt, Field(ge=2, le=24 * 31)] = 24
    summary: Literal["none", "model"] = "none"  # the optional one sentence of the model
    list_max: Annotated[StrictInt, Field(ge=0, le=100)] = 5  # records named per category

    @field_validator("run_every_minutes")
    @classmethod
    def _divides_the_day(cls, value: int) -> int:
        if DAY_MINUTES % value:
            raise ValueError(f"{value} does not divide the day's 1440 minutes; use e.g. 5, 10 or 15")
        return value

    @field_validator("windows")
    @classmethod
    def _known_windows(cls, value: dict[str, int]) -> dict[str, int]:
        for category, minutes in value.items():
            if category not in EVENT_CATEGORIES:
                raise ValueError(f"unknown event category {category!r}; use {', '.join(EVENT_CATEGORIES)}")
            if minutes < 0 or minutes > DAY_MINUTES or (minutes and DAY_MINUTES % minutes):
                raise ValueError(
                    f"{category}: {minutes} minutes is no window of the UTC clock; use 0 (immediate) "
                    "or a divisor of 1440 such as 10, 30 or 60"
                )
        return value

    @model_validator(mode="after")
    def _on_a_run(self) -> Settings:
        for category, minutes in self.windows.items():
            if minutes % self.run_every_minutes:
                raise ValueError(
                    f"windows.{category}: {minutes} minutes is not a multiple of run_every_minutes "
                    f"({self.run_every_minutes}); no run would close it on time"
                )
        return self


# ------------------------------------------------------------------ windows, in code


def _aware(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def window_end(when: datetime, settings: Settings) -> datetime:
    """The step instant a run at `when` serves: a manual run at 10:03 serves the 10:00 window
    (already claimed by the scheduled run, so it re-reads it and sends nothing new)."""
    moment = _aware(when).replace(second=0, microsecond=0)
    return moment - timedelta(minutes=moment.minute % settings.run_every_minutes)


def window_key(end: datetime) -> str:
    return _aware(end).strftime(WINDOW_KEY_FORMAT)


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
    # Ids may be uuids or text (a company's own events); integer ids still sort as numbers.
    rows = sorted(claimed, key=lambda r: (str(r["occurred_at"]), id_order(r["id"])))
    return snapshot.model_copy(update={"tables": {EVENTS: rows}})


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return _aware(moment)


@dataclass(frozen=True)
class Counts:
    by_category: dict[str, int]  # in LABELS' order, categories with events only
    by_record: dict[str, int]  # "transactions" -> 3, in first-seen order

    @property
    def total(self) -> int:
        return sum(self.by_category.values())

    def allowed(self) -> set[Decimal]:
        """What a number in the model's sentence may be: a count, a sum of counts of one kind."""
        values = {Decimal(v) for v in (*self.by_category.values(), *self.by_record.values(), self.total)}
        return values


def counts(snapshot: TeamSnapshot, settings: Settings) -> Counts:
    found = Counter(str(row["category"]) for row in snapshot.tables.get(EVENTS, []))
    # The order a finance team reads: money moving first, then matching (LABELS' order).
    by_category = {c: found[c] for c in LABELS if c in settings.windows and found[c]}
    by_record: dict[str, int] = {}
    for category, n in by_category.items():
        plural = LABELS[category].record[1]
        by_record[plural] = by_record.get(plural, 0) + n
    return Counts(by_category, by_record)


def _plural(n: int, one: str, many: str) -> str:
    return f"{numbers.format_count(n)} {one if n == 1 else many}"


def headline(c: Counts) -> str:
    """ "You have 5 new records: 3 transactions, 2 invoices." (one kind of record: no list)."""
    parts = []
    for category in c.by_category:
        one, many = LABELS[category].record
        if many not in [p[1] for p in parts]:
            parts.append((one, many))
    listed = ", ".join(_plural(c.by_record[many], one, many) for one, many in parts)
    total = _plural(c.total, "new record", "new records")
    if len(parts) == 1:  # one kind of record: "You have 22 new transactions."
        one, many = parts[0]
        return f"You have {_plural(c.total, 'new ' + one, 'new ' + many)}."
    return f"You have {total}: {listed}."


def _code(text: str) -> str:
    # Record ids are database text: inert inside code spans, which cannot hold a backtick.
    return "`" + one_line(text).replace("`", "'")[:64] + "`"


def category_line(snapshot: TeamSnapshot, category: str, n: int, settings: Settings) -> str:
    label = LABELS[category]
    ids = [r["record_id"] for r in snapshot.tables.get(EVENTS, []) if r["category"] == category]
    refs = [str(r) for r in ids if r is not None]  # never the text "None"
    named = ", ".join(_code(r) for r in refs[: settings.list_max])
    more = len(refs) - settings.list_max
    if more > 0:
        named += f" and {numbers.format_count(more)} more"
    line = f"- {_plural(n, label.one, label.many)}"
    line = f"{line}: {named}" if named else line
    unknown = len(ids) - len(refs)
    return f"{line} ({numbers.format_count(unknown)} with no record id)" if unknown else line


# Words that name a category: the sentence may name only categories the window has ("paid
# invoices" in a window without one is as wrong as a wrong number; the tiny model copies them).
MENTIONS = {
    "transaction_created": ("transaction",),
    "invoice_paid": ("paid", "payment"),
    "invoice_overdue": ("overdue",),
    "recurring_invoice_upcoming": ("recurring", "upcoming", "coming up"),
    "receipt_matched": ("receipt",),
    "document_matched": ("document",),
}


def known_names(snapshot: TeamSnapshot) -> Names:
    """What the sentence may name: the window's claimed rows, the team, and the labels code writes."""
    labels = [text for label in LABELS.values() for text in (label.one, label.many)]
    return Names.of(snapshot.model_dump(mode="json"), vocabulary=labels)


def sentence_problem(line: str, c: Counts, names: Names) -> str | None:
    """What in the model's sentence the window's counts and rows do not support, if anything."""
    missing = numbers.unsupported_numbers(line, c.allowed())
    if missing:
        return f"states {missing[0]!r}, which is none of the counts {sorted(set(c.by_category.values()))}"
    lower = line.lower()
    for category, words in MENTIONS.items():
        if category not in c.by_category and any(re.search(rf"\b{re.escape(w)}", lower) for w in words):
            return f"names {LABELS[category].many}, of which the window has none"
    invented = names.unknown(line)
    if invented:
        return f"names {invented[0]!r}, which is in no row of the window"
    return None


def _clean_sentence(text: Any, c: Counts, names: Names) -> str:
    """The model's first sentence as one inert line, or "" when it is empty, too long or says what
    the counts do not support (an omitted sentence costs nothing; a wrong one misleads)."""
    line = one_line(scrub(str(text or ""))).strip()
    first = re.match(r"(.+?[.!?])(?:\s|$)", line)
    line = first.group(1) if first else line  # a base model repeats itself: one sentence only
    if not line or len(line) > SUMMARY_MAX or not any(ch.isalpha() for ch in line):
        return ""
    return "" if sentence_problem(line, c, names) else line


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

    # ------------------------------------------------------------------ the model, optional

    def plan(
        self, snapshot: TeamSnapshot, settings: Settings, mode: Literal["loop", "structured"]
    ) -> KindPlan:
        c = counts(snapshot, settings)
        if settings.summary == "none" or not c.total:
            return KindPlan(prompt="", answer={"summary": ""}, answer_reason="the counts are code's")
        top = max(c.by_category, key=lambda k: c.by_category[k])
        lines = [
            # The example is true of this window: the embedded model copies examples (2026-12-02).
            "Write ONE short, plain sentence for a finance team about the records below, e.g. "
            f'"Most of the new activity is {LABELS[top].many}." Use only these numbers, or none.',
            "<data>",
            *(f"{LABELS[k].many}: {n}" for k, n in c.by_category.items()),
            "</data>",
        ]
        schema = {
            "type": "object",
            "additionalProperties": False,
            "required": ["summary"],
            "properties": {"summary": {"type": "string", "maxLength": SUMMARY_MAX}},
        }
        if mode == "loop":
            lines.append("Put the sentence in the RESULT's `summary`.")
        return KindPlan(prompt="\n".join(lines), result_schema=schema)

    # ------------------------------------------------------------------ the artifact

    def heading(self, snapshot: TeamSnapshot, title: str) -> str:
        at = snapshot.period.end.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"# {one_line(title)} — {as_text(snapshot.team.name)}, {at}"

    def body(self, snapshot: TeamSnapshot, settings: Settings) -> list[str]:
        c = counts(snapshot, settings)
        if not c.total:
            return ["Nothing new."]
        lines = [headline(c), ""]
        lines += [category_line(snapshot, k, n, settings) for k, n in c.by_category.items()]
        return lines

    def render(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: Settings, title: str
    ) -> Rendered:
        c = counts(snapshot, settings)
        sentence = ""
        if settings.summary == "model":
            sentence = _clean_sentence(answer.get("summary"), c, known_names(snapshot))
        lines = [self.heading(snapshot, title), "", *self.body(snapshot, settings)]
        if sentence and c.total:
            lines[4:4] = [as_text(sentence), ""]  # after the headline, before the lists
        markdown = "\n".join([*lines, ""])
        return Rendered(markdown, {"items": c.total, "summary": sentence})

    def check(
        self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: Settings
    ) -> None:
        c = counts(snapshot, settings)
        suffix = self.heading(snapshot, "x").split(" — ", 1)[1]
        check_heading(markdown, ARTIFACT_FILE, f" — {suffix}")
        lines = markdown.split("\n")
        body = self.body(snapshot, settings)
        sentence = ""
        if c.total and len(lines) > 4 and lines[4] and not lines[4].startswith("- "):
            sentence = lines[4]
            problem = sentence_problem(unescape(sentence), c, known_names(snapshot))
            if problem:
                raise CheckFailed(f"the summary sentence {problem}: {sentence[:200]!r}")
            if settings.summary != "model":
                raise CheckFailed("the summary has a sentence, but the kind's `summary` is none")
        expected = [lines[0], "", *body]
        if sentence:
            expected[4:4] = [sentence, ""]
        if lines != [*expected, ""]:
            raise CheckFailed(f"{ARTIFACT_FILE} is not the counts and records of the window's claimed events")
        if result.get("items") != c.total:
            raise CheckFailed(f"the result says {result.get('items')!r} items; the window claimed {c.total}")

    def preview(self, markdown: str) -> str:
        lines = [line for line in markdown.splitlines() if line.strip()]
        return lines[1].strip() if len(lines) > 1 else ""


@dataclass(frozen=True)
class WindowPeriod(Period):
    """A window's period: keyed by its end (UTC, to the minute), not by a day, so each window has
    its own folder and its own delivery."""

    @property
    def key(self) -> str:
        return window_key(self.end)


KIND = BatchNotifications()

__all__ = ["KIND", "BatchNotifications", "Settings", "closing", "counts", "window_end", "window_key"]

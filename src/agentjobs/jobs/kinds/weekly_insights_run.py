"""weekly_insights at run time: the weeks' arithmetic, the tools, the prompts, the renderer and
the check (the kind, weekly_insights.py, delegates here; a DAG parse never loads this module).

All arithmetic is done here, from the snapshot rows, in the team's weeks: a week's totals per
metric, and every comparison between two weeks (`compare_periods`, also the model's tool).
- structured mode (the embedded model): the model only picks which metrics matter, from an
  enum, and adds a short comment that may hold no digits; the renderer writes the numbers.
- loop mode (a capable model): the model words 3-5 bullets itself from the tools' answers.
Either way `check` reads every number back out of the bullets and needs a value of the
comparisons that rounds to it, and every name (a customer, a vendor, a category, a person:
jobs/names.py) needs a string of the snapshot that holds it: "use ONLY the data provided" is
enforced here, not asked for. A structured comment that names what the data lacks is dropped.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import combinations
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

import pydantic

from agentjobs.agent.scrub import scrub
from agentjobs.jobs import numbers
from agentjobs.jobs.kinds.base import CheckFailed, KindPlan, Rendered, TeamSnapshot
from agentjobs.jobs.kinds.weekly_insights_settings import TABLE, Settings
from agentjobs.jobs.markdown_text import as_text, one_line, unescape
from agentjobs.jobs.names import Names
from agentjobs.jobs.numbers import Allowed
from agentjobs.jobs.prompt_data import as_data

if TYPE_CHECKING:  # annotations only: the tools' module loads when a task asks for the tools
    from agentjobs.agent.tools import Tool

log = logging.getLogger(__name__)
COMMENT_MAX = 90  # characters: one short clause per bullet keeps 5 bullets under words_max
BULLET_MAX = 400  # characters of a bullet the model words itself (loop mode)
NO_TRANSACTIONS = "No transactions this week."
EN_DASH = "\u2013"  # between the first and the last day in the heading
WEEK_NAMES = ("this_week", "previous_week")

# ------------------------------------------------------------------ the weeks, in code


def week_name(index: int) -> str:
    return WEEK_NAMES[index] if index < len(WEEK_NAMES) else f"{index}_weeks_ago"


def _metric_label(metric: str) -> str:
    if metric.startswith("spend:"):
        return f"{metric.removeprefix('spend:').capitalize()} spend"
    if metric.startswith("revenue:"):
        return f"{metric.removeprefix('revenue:').capitalize()} revenue"
    return metric.capitalize()


def _metric_word(metric: str) -> str:
    """The word a text names the metric by: its category, or the stem of the metric's name."""
    return metric.split(":", 1)[1] if ":" in metric else metric.removesuffix("s")


def _is_money(metric: str) -> bool:
    return metric != "transactions"


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    # The table stores naive UTC; the sql source writes ISO strings in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class Comparison:
    metric: str
    period1: str
    period2: str
    value1: int  # minor units, or a count
    value2: int
    currency: str

    @property
    def change(self) -> int:
        return self.value1 - self.value2

    @property
    def change_pct(self) -> Decimal | None:
        """Exact, unrounded; None when the earlier value is zero (no base to compare with)."""
        return None if self.value2 == 0 else Decimal(self.change) * 100 / Decimal(self.value2)

    def formatted(self, value: int) -> str:
        return numbers.format_amount(value, self.currency) if _is_money(self.metric) else f"{value:,}"

    @property
    def change_text(self) -> str:
        if _is_money(self.metric):
            return numbers.format_amount(self.change, self.currency, signed=True)
        return f"{self.change:+,}" if self.change else "0"

    @property
    def change_pct_text(self) -> str | None:
        pct = self.change_pct
        return None if pct is None else numbers.format_pct(pct, signed=True)

    def as_json(self, weeks: Weeks) -> dict[str, Any]:
        def side(name: str, value: int) -> dict[str, Any]:
            start, end = weeks.dates(name)
            return {
                "name": name,
                "first_day": start.isoformat(),
                "last_day": end.isoformat(),
                "value": value,
                "formatted": self.formatted(value),
            }

        return {
            "metric": self.metric,
            "unit": f"{self.currency} minor units" if _is_money(self.metric) else "count",
            "period1": side(self.period1, self.value1),
            "period2": side(self.period2, self.value2),
            "change": self.change_text,
            "change_pct": self.change_pct_text,
        }


class Weeks:
    """A snapshot's transactions as totals per metric and local week (index 0: the week reported)."""

    def __init__(self, snapshot: TeamSnapshot, weeks_back: int) -> None:
        self.snapshot = snapshot
        # A code ISO 4217 does not list fails the team here, naming it, before any model call.
        self.currency = numbers.check_currency(snapshot.team.currency)
        self.unknown_amounts = 0  # transactions whose amount is NULL (failed import): counted, not summed
        self.tz = ZoneInfo(snapshot.team.timezone)
        self.end_day = snapshot.period.end.astimezone(self.tz).date()  # the run's Sunday, exclusive
        self.count = weeks_back + 1
        self.names = [week_name(i) for i in range(self.count)]
        totals: dict[str, list[int]] = {m: [0] * self.count for m in ("revenue", "expenses", "transactions")}
        for row in snapshot.tables.get(TABLE, []):
            local_day = _utc(row["occurred_at"]).astimezone(self.tz).date()
            index = (self.end_day - local_day).days
            if index <= 0 or index > 7 * self.count:
                continue  # outside the weeks asked for (a reader's bound is not trusted)
            week = (index - 1) // 7
            totals["transactions"][week] += 1
            if numbers.check_currency(row.get("currency") or self.currency) != self.currency:
                continue  # an amount in another currency cannot be added to the team's
            if row.get("kind") not in ("income", "expense"):
                continue
            if row.get("amount_cents") is None:
                self.unknown_amounts += 1  # never guessed as zero into a total; logged below
                continue
            kind = "revenue" if row["kind"] == "income" else "expenses"
            prefix = "revenue:" if kind == "revenue" else "spend:"
            amount = int(row["amount_cents"])
            totals[kind][week] += amount
            category = str(row.get("category") or "uncategorized")
            totals.setdefault(prefix + category, [0] * self.count)[week] += amount
        if self.unknown_amounts:  # the artifact says so too (not_totalled)
            log.warning(
                "%s: %d transaction(s) with a NULL amount are counted but left out of the totals",
                snapshot.team.id,
                self.unknown_amounts,
            )
        fixed = ["revenue", "expenses", "transactions"]
        categories = sorted(m for m in totals if m not in fixed)
        self.values = {m: totals[m] for m in fixed + categories}

    @property
    def not_totalled(self) -> str | None:
        """The artifact's last line when amounts are missing (as compliance_report says it): a
        reader must not take totals that leave rows out for the whole week's."""
        if not self.unknown_amounts:
            return None
        n = self.unknown_amounts
        count = f"{numbers.format_count(n)} transaction{'' if n == 1 else 's'}"
        return f"Not totalled: {count} with amount unknown (in the weeks compared)."

    def dates(self, name: str) -> tuple[date, date]:
        """First and last local day of the named week."""
        index = self.names.index(name)
        last = self.end_day - timedelta(days=1 + 7 * index)
        return last - timedelta(days=6), last

    @property
    def empty(self) -> bool:
        return self.values["transactions"][0] == 0

    def metrics(self) -> list[str]:
        """The metrics with data in the week reported or the one before (what a finding can be about)."""
        return [m for m, v in self.values.items() if v[0] or v[1]]

    def compare(self, metric: str, period1: str, period2: str) -> Comparison:
        if metric not in self.values:
            raise ValueError(f"unknown metric {metric!r}; call list_metrics for the metrics with data")
        for name in (period1, period2):
            if name not in self.names:
                raise ValueError(f"unknown period {name!r}; use one of {', '.join(self.names)}")
        if self.names.index(period1) >= self.names.index(period2):
            # One direction only: a change is always later minus earlier, so its sign means one thing.
            raise ValueError(f"period1 must be a later week than period2, e.g. {self.names[0]} and {period2}")
        v = self.values[metric]
        return Comparison(
            metric,
            period1,
            period2,
            v[self.names.index(period1)],
            v[self.names.index(period2)],
            self.currency,
        )

    def week_on_week(self) -> list[Comparison]:
        """This week against the previous one, per metric with data, the largest relative change first."""

        def weight(c: Comparison) -> Decimal:
            pct = c.change_pct
            return abs(pct) if pct is not None else Decimal(100)  # from nothing: a full change

        found = [self.compare(m, "this_week", "previous_week") for m in self.metrics()]
        return sorted(found, key=lambda c: (-weight(c), c.metric))

    def exact(self, metric: str, value: int) -> Decimal:
        """A metric's value as the exact number a text writes: major units of money, or a count."""
        return numbers.minor_to_major(value, self.currency) if _is_money(metric) else Decimal(value)

    def mentioned(self, text: str) -> list[str]:
        """The metrics a text names ("software", "revenue", "transactions"), all of them if none."""
        lower = text.lower()
        named = [m for m in self.values if re.search(rf"\b{re.escape(_metric_word(m))}", lower)]
        return named or list(self.values)

    def allowed(self, metrics: list[str]) -> Allowed:
        """Every value a tool call about `metrics` can answer: each week's value, each pair's changes."""
        general: set[Decimal] = {Decimal(n) for n in range(self.count + 1)}  # "2_weeks_ago", "4 weeks"
        general.update(Decimal(7 * n) for n in range(1, self.count + 1))  # "14 days"
        amounts: set[Decimal] = set()
        percents: set[Decimal] = set()
        for metric in metrics:
            general.update(w.value for w in numbers.extract(metric))  # a category named with digits
            plain_values = amounts if _is_money(metric) else general
            plain_values.update(self.exact(metric, v) for v in self.values[metric])
            for later, earlier in combinations(self.names, 2):
                comparison = self.compare(metric, later, earlier)
                plain_values.add(self.exact(metric, comparison.change))
                if comparison.change_pct is not None:
                    percents.add(comparison.change_pct)
        return Allowed(general | amounts | percents, percents, amounts)

    @cached_property
    def known_names(self) -> Names:
        """The names a bullet may write: the snapshot's strings, the week and metric names of the tools."""
        return Names.of(self.snapshot.model_dump(mode="json"), vocabulary=[*self.names, *self.values])

    @cached_property
    def days(self) -> set[date]:
        return {day for name in self.names for day in self.dates(name)}


def tools(snapshot: TeamSnapshot, settings: Settings) -> list[Tool]:
    """The read-only tools over one snapshot: list_metrics and compare_periods."""
    from agentjobs.agent.tools import tool_from_function  # run time: the tools' module is not parse's

    weeks = Weeks(snapshot, settings.weeks_back)

    def list_metrics() -> str:
        """The metrics with data and the periods compare_periods accepts, with each period's days."""
        return json.dumps(
            {
                "metrics": weeks.metrics(),
                "periods": [
                    {"name": n, "first_day": a.isoformat(), "last_day": b.isoformat()}
                    for n in weeks.names
                    for a, b in [weeks.dates(n)]
                ],
                "currency": weeks.currency,
            }
        )

    def compare_periods(
        metric: Annotated[
            str, pydantic.Field(description="e.g. revenue, expenses, transactions, spend:travel")
        ],
        period1: Annotated[str, pydantic.Field(description="the later week, e.g. this_week")],
        period2: Annotated[str, pydantic.Field(description="an earlier week, e.g. previous_week")],
    ) -> str:
        """One metric in two weeks of the team: both values, and the change from period2 to period1.

        Write numbers exactly as `formatted`, `change` and `change_pct` show them."""
        return json.dumps(weeks.compare(metric, period1, period2).as_json(weeks), ensure_ascii=False)

    return [tool_from_function(list_metrics), tool_from_function(compare_periods)]


# ------------------------------------------------------------------ the kind


def _structured_schema(metrics: list[str], settings: Settings) -> dict[str, Any]:
    most = min(settings.bullets_max, len(metrics))
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["findings"],
        "properties": {
            "findings": {
                "type": "array",
                "minItems": min(settings.bullets_min, most),
                "maxItems": most,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["metric", "comment"],
                    "properties": {
                        "metric": {"type": "string", "enum": metrics},
                        # No `pattern` (e.g. "no digits"): llama-server's grammar for it made the
                        # embedded model's every answer a 500 (measured 2026-12-02); a comment with
                        # a digit is dropped by the renderer instead.
                        "comment": {"type": "string", "maxLength": COMMENT_MAX},
                    },
                },
            }
        },
    }


def _loop_schema(settings: Settings) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["bullets", "items"],
        "properties": {
            "bullets": {
                "type": "array",
                "minItems": settings.bullets_min,
                "maxItems": settings.bullets_max,
                "items": {"type": "string", "minLength": 3, "maxLength": BULLET_MAX},
            },
            "items": {"type": "integer", "minimum": 0},
        },
    }


def _comparison_line(c: Comparison) -> str:
    pct = f" ({c.change_pct_text})" if c.change_pct_text else ""
    return (
        f"- metric: {as_data(c.metric)} | this week {c.formatted(c.value1)} | "
        f"previous week {c.formatted(c.value2)} | change {c.change_text}{pct}"
    )


def _bullet(c: Comparison, comment: str) -> str:
    pct = f" ({c.change_pct_text})" if c.change_pct_text else ""
    line = (
        f"- **{as_text(_metric_label(c.metric))}**: {c.formatted(c.value1)} this week vs "
        f"{c.formatted(c.value2)} the week before, {c.change_text}{pct}."
    )
    return f"{line} {as_text(comment)}" if comment else line


def _clean_comment(text: Any, names: Names) -> str:
    comment = one_line(scrub(str(text or "")))[:COMMENT_MAX].strip()
    # A digit in a comment is a number the renderer did not write, a name the data lacks one the
    # model made up: drop the comment, keep the bullet.
    return "" if numbers.extract(comment) or names.unknown(comment) else comment


_BOLD = re.compile(r"(?<!\\)\*\*")


def plain(markdown_line: str) -> str:
    """A rendered line as the text it shows: no bullet marker, no bold, no escapes."""
    return one_line(unescape(_BOLD.sub("", markdown_line.removeprefix("- "))))


def _week_span(snapshot: TeamSnapshot) -> tuple[date, date]:
    tz = ZoneInfo(snapshot.team.timezone)
    return snapshot.period.start.astimezone(tz).date(), date.fromisoformat(snapshot.period.key)


# ------------------------------------------------------------------ what the kind's methods do


def plan(snapshot: TeamSnapshot, settings: Settings, mode: Literal["loop", "structured"]) -> KindPlan:
    weeks = Weeks(snapshot, settings.weeks_back)
    first, last = _week_span(snapshot)
    if weeks.empty:
        answer: dict[str, Any] = {"findings": []} if mode == "structured" else {"bullets": [], "items": 0}
        return KindPlan(prompt="", answer=answer, answer_reason="No transactions in the week")
    if mode == "structured":
        lines = [
            f"Pick the {settings.bullets_min} to {settings.bullets_max} metrics that changed the most "
            f"in the team's week {first} to {last}, most important first, each with a short comment "
            "in words only (no digits: the numbers are added for you). Use ONLY the data below.",
            # A direction-free example: the embedded model copies the example's comment onto
            # every bullet, and "jumped" under a fall would mislead (seen 2026-12-02).
            'Example: {"findings": [{"metric": "spend:travel", "comment": "Ask the team what drove this"}]}',
            "<data>",
            *(_comparison_line(c) for c in weeks.week_on_week()),
            "</data>",
        ]
        return KindPlan(prompt="\n".join(lines), result_schema=_structured_schema(weeks.metrics(), settings))
    prompt = (
        f"Write {settings.bullets_min} to {settings.bullets_max} bullets on what changed in the team's "
        f"money in the week {first} to {last} (this_week) against earlier weeks, at most "
        f"{settings.words_max} words in all, the most important first. Call list_metrics, then "
        f"compare_periods; earlier weeks go back to {week_name(settings.weeks_back)}. Use ONLY the "
        "numbers the tools return, written exactly as they format them, and name only what they "
        "return (no customer, vendor or person: every name is checked). Put the bullets' text (no "
        "leading dash) in the RESULT's `bullets` and their count in `items`."
    )
    return KindPlan(prompt=prompt, result_schema=_loop_schema(settings), tools=tools(snapshot, settings))


def _heading(snapshot: TeamSnapshot, title: str) -> str:
    first, last = _week_span(snapshot)
    return f"# {one_line(title)} — {as_text(snapshot.team.name)}, week {first}{EN_DASH}{last}"


def render(snapshot: TeamSnapshot, answer: dict[str, Any], settings: Settings, title: str) -> Rendered:
    weeks = Weeks(snapshot, settings.weeks_back)
    heading = _heading(snapshot, title)
    if weeks.empty:
        return Rendered(f"{heading}\n\n{NO_TRANSACTIONS}\n", {"bullets": [], "items": 0})
    if "findings" in answer:
        bullets = _structured_bullets(weeks, answer["findings"], settings)
    else:
        bullets = []
        for text in answer.get("bullets", [])[: settings.bullets_max]:
            line = one_line(scrub(str(text))).removeprefix("- ").strip()
            if line:
                bullets.append(f"- {as_text(line)}")
    note = ["", weeks.not_totalled] if weeks.not_totalled else []
    markdown = "\n".join([heading, "", *bullets, *note, ""])
    return Rendered(markdown, {"bullets": [plain(b) for b in bullets], "items": len(bullets)})


def _structured_bullets(weeks: Weeks, findings: Any, settings: Settings) -> list[str]:
    ranked = {c.metric: c for c in weeks.week_on_week()}
    picked: dict[str, str] = {}
    for finding in findings if isinstance(findings, list) else []:
        metric = finding.get("metric") if isinstance(finding, dict) else None
        # Grammars do not enforce uniqueItems, and an enum is not trusted after the fact either.
        if metric in ranked and metric not in picked and len(picked) < settings.bullets_max:
            picked[metric] = _clean_comment(finding.get("comment"), weeks.known_names)
    # Too few findings: the largest remaining changes, computed here, fill up to bullets_min.
    for metric in ranked:
        if len(picked) >= min(settings.bullets_min, len(ranked)):
            break
        picked.setdefault(metric, "")
    return [_bullet(ranked[m], comment) for m, comment in picked.items()]


def check(snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: Settings) -> None:
    weeks = Weeks(snapshot, settings.weeks_back)
    lines = markdown.strip().splitlines()
    first, last = _week_span(snapshot)
    expected_end = f" — {as_text(snapshot.team.name)}, week {first}{EN_DASH}{last}"
    if not lines or not lines[0].startswith("# ") or not lines[0].endswith(expected_end):
        raise CheckFailed(f"the first line must be the heading '# <title>{expected_end}'")
    body = [line for line in lines[1:] if line.strip()]
    items = result.get("items")
    if weeks.empty:
        if body != [NO_TRANSACTIONS] or items != 0:
            raise CheckFailed(f"the week has no transactions: the artifact must say {NO_TRANSACTIONS!r}")
        return
    if weeks.not_totalled:  # code's line, rebuilt from the snapshot: not a bullet
        if not body or body[-1] != weeks.not_totalled:
            raise CheckFailed(f"amounts are missing: the artifact must end with {weeks.not_totalled!r}")
        body = body[:-1]
    for line in body:
        if not line.startswith("- "):
            raise CheckFailed(f"only bullets may follow the heading, found: {line[:120]!r}")
    if not settings.bullets_min <= len(body) <= settings.bullets_max:
        raise CheckFailed(
            f"{len(body)} bullets; the insights need {settings.bullets_min} to {settings.bullets_max}"
        )
    if items != len(body):
        raise CheckFailed(f"RESULT items is {items!r} but the artifact has {len(body)} bullets")
    words = sum(len(plain(line).split()) for line in body)
    if words > settings.words_max:
        raise CheckFailed(f"{words} words; the insights may have at most {settings.words_max}")
    for n, line in enumerate(body, start=1):
        text = plain(line)
        # A bullet about software spend is checked against software spend's numbers only.
        allowed = weeks.allowed(weeks.mentioned(text))
        missing = numbers.unsupported_numbers(
            text, allowed.values, dates=weeks.days, percents=allowed.percents, amounts=allowed.amounts
        )
        if missing:
            raise CheckFailed(
                f"bullet {n} states {missing[0]!r}, which no value of the snapshot supports "
                f"at that precision: {text[:200]!r}"
            )
    for n, line in enumerate(body, start=1):
        text = plain(line)
        invented = weeks.known_names.unknown(text)
        if invented:
            raise CheckFailed(
                f"bullet {n} names {invented[0]!r}, which is in no row of the snapshot: {text[:200]!r}"
            )
    # Last, so that an unsupported number is what a failure names first.
    claimed = result.get("bullets")
    if claimed is not None and [one_line(str(b)) for b in claimed] != [plain(line) for line in body]:
        raise CheckFailed("the RESULT's bullets are not the bullets of the artifact")


def insights(snapshot: TeamSnapshot, result: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    """The validated insights as records ({text, metric, numbers}, in the order sent): a bullet
    the renderer wrote about one metric ("Travel spend: ...") carries that metric and its two
    weeks' values (minor units, or a count); every bullet carries the numbers it states."""
    weeks = Weeks(snapshot, settings.weeks_back)
    if weeks.empty:
        return [{"text": NO_TRANSACTIONS, "metric": None, "numbers": {}}]
    labels = sorted(weeks.values, key=lambda m: -len(_metric_label(m)))
    found = []
    for bullet in result.get("bullets") or []:
        text = one_line(str(bullet))
        numbers_: dict[str, Any] = {"stated": [w.text for w in numbers.extract(text)]}
        metric = next((m for m in labels if text.startswith(f"{_metric_label(m)}:")), None)
        if metric is not None:
            c = weeks.compare(metric, "this_week", "previous_week")
            numbers_.update(
                unit="count" if not _is_money(metric) else f"{c.currency} minor units",
                this_week=c.value1,
                previous_week=c.value2,
                change=c.change,
                change_pct=None if c.change_pct is None else str(c.change_pct),
            )
        found.append({"text": text, "metric": metric, "numbers": numbers_})
    return found


def preview(markdown: str) -> str:
    lines = [line for line in markdown.splitlines() if line.strip() and not line.startswith("# ")]
    bullets = [line for line in lines if line.startswith("- ")]
    first = bullets[0] if bullets else (lines[0] if lines else "")
    return plain(first)

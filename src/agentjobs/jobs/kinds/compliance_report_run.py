"""compliance_report at run time: the month's figures, the statements written from them, the
prompt, the report rendered in code and its check (the kind, compliance_report.py, delegates
here; a DAG parse never loads this module)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from agentjobs.agent.scrub import scrub
from agentjobs.jobs import numbers
from agentjobs.jobs.kinds.base import CheckFailed, KindPlan, Rendered, TeamSnapshot, check_heading
from agentjobs.jobs.kinds.compliance_report_settings import ARTIFACT_FILE, ComplianceSettings
from agentjobs.jobs.markdown_text import as_text, one_line, unescape
from agentjobs.jobs.names import Names
from agentjobs.jobs.numbers import Allowed
from agentjobs.jobs.prompt_data import as_data

SUMMARY_HEADING = "## Summary"
SENTENCE_MAX = 300  # characters of one sentence the model words itself (loop mode)
# Listed first to the model: what a person signing off the month must look at.
ATTENTION = ("overdue_invoices", "unpaid_invoices", "unmatched_receipts", "other_currencies")


# ------------------------------------------------------------------ the figures, in code


@dataclass(frozen=True)
class CategoryTotal:
    kind: str  # "income" | "expense"
    category: str
    count: int
    total: int  # minor units of the team's currency


@dataclass(frozen=True)
class Figures:
    """What the report states, all from one snapshot."""

    currency: str
    first_day: date
    last_day: date
    categories: list[CategoryTotal]
    other_currency: int  # transactions not in the team's currency: counted, not totalled
    unpaid: list[dict[str, Any]]  # largest first
    overdue: list[dict[str, Any]]
    unmatched: list[dict[str, Any]]  # amount unknown first, then largest first
    # Transactions whose amount is NULL (an import or OCR that failed): counted, never totalled.
    unknown_amount: int = 0
    # Unpaid invoices and unmatched receipts in another currency than the team's: no sum of the
    # team's money can hold them, and a month-end report cannot leave them out without a word,
    # so they are listed apart, with a total per currency (currency, then largest first).
    other_unpaid: list[dict[str, Any]] = field(default_factory=list)
    other_unmatched: list[dict[str, Any]] = field(default_factory=list)

    @property
    def other_overdue(self) -> list[dict[str, Any]]:
        return [r for r in self.other_unpaid if _overdue(r, self.last_day)]

    @property
    def month(self) -> str:
        return self.first_day.strftime("%B %Y")

    def total(self, kind: str) -> int:
        return sum(c.total for c in self.categories if c.kind == kind)

    def count(self, kind: str) -> int:
        return sum(c.count for c in self.categories if c.kind == kind)

    @property
    def net(self) -> int:
        return self.total("income") - self.total("expense")

    def share(self, c: CategoryTotal) -> Decimal | None:
        whole = self.total(c.kind)
        return None if whole == 0 else Decimal(c.total) * 100 / Decimal(whole)

    def amount(self, minor: int) -> str:
        return numbers.format_amount(minor, self.currency)

    def sum_of(self, rows: list[dict[str, Any]]) -> int:
        """The rows' amounts that are known; a NULL amount is listed as unknown, never guessed."""
        return sum(m for r in rows if (m := amount_of(r)) is not None)

    def shown(self, row: dict[str, Any]) -> str:
        minor = amount_of(row)
        return "amount unknown" if minor is None else self.amount(minor)


def amount_of(row: dict[str, Any]) -> int | None:
    """The row's amount in minor units; None where the database holds NULL (a failed import/OCR),
    or where the row's currency is NULL: minor units of an unread currency are no known amount
    of the team's (not even their exponent is known), so they are not guessed into a sum."""
    value = row.get("amount_cents")
    if value is None or ("currency" in row and row["currency"] is None):
        return None
    return int(value)


def unknown_count(rows: list[dict[str, Any]]) -> int:
    return sum(1 for r in rows if amount_of(r) is None)


def _not_summed(rows: list[dict[str, Any]]) -> str:
    """What a sum of `rows` leaves out: " (1 with amount unknown, not in the sum)", or nothing."""
    n = unknown_count(rows)
    return f" ({numbers.format_count(n)} with amount unknown, not in the sum)" if n else ""


def _day(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value)[:10])


def _overdue(row: dict[str, Any], last_day: date) -> bool:
    # An invoice without a due date is unpaid, but cannot be said to be overdue.
    return (due := _day(row.get("due_on"))) is not None and due <= last_day


def _foreign_amount(row: dict[str, Any]) -> str:
    """A row's amount in its own currency, by code (`1,000.00 EUR`: no `$` to mistake for the team's)."""
    currency = str(row["currency"])
    value = row.get("amount_cents")
    if value is None:
        return f"amount unknown ({currency})"
    return numbers.format_amount(int(value), currency, code=True)


def _by_currency(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grouped by currency, each group as _by_amount orders it (amount unknown first)."""

    def key(r: dict[str, Any]) -> tuple[str, bool, int, str]:
        value = r.get("amount_cents")
        return (str(r["currency"]), value is not None, -int(value or 0), str(r["id"]))

    return sorted(rows, key=key)


def _by_amount(rows: list[dict[str, Any]], unknown_first: bool = False) -> list[dict[str, Any]]:
    # Largest first; a row whose amount is unknown after every known one, or before them all
    # (a receipt OCR could not read needs a person most, so `top_n` never hides it behind others).
    return sorted(
        rows, key=lambda r: ((amount_of(r) is None) != unknown_first, -(amount_of(r) or 0), str(r["id"]))
    )


def figures(snapshot: TeamSnapshot) -> Figures:
    # A code ISO 4217 does not list fails the team here, naming it, before any model call.
    currency = numbers.check_currency(snapshot.team.currency)
    tz = ZoneInfo(snapshot.team.timezone)
    first_day = snapshot.period.start.astimezone(tz).date()
    last_day = date.fromisoformat(snapshot.period.key)
    totals: dict[tuple[str, str], list[int]] = {}
    other = unknown = 0
    for row in snapshot.tables.get("transactions", []):
        if row.get("kind") not in ("income", "expense"):
            continue
        if numbers.check_currency(row.get("currency") or currency) != currency:
            other += 1  # an amount in another currency cannot be added to the team's
            continue
        minor = amount_of(row)
        if minor is None:
            unknown += 1
            continue
        entry = totals.setdefault((str(row["kind"]), str(row.get("category") or "uncategorized")), [0, 0])
        entry[0] += 1
        entry[1] += minor
    categories = [CategoryTotal(k, c, n, t) for (k, c), (n, t) in totals.items()]
    categories.sort(key=lambda c: (c.kind != "income", -c.total, c.category))

    def split(table: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        # A row whose currency is NULL (unread) is the team's, its amount unknown (amount_of);
        # one in another currency goes to the rows listed apart.
        own: list[dict[str, Any]] = []
        other: list[dict[str, Any]] = []
        for r in snapshot.tables.get(table, []):
            (own if numbers.check_currency(r.get("currency") or currency) == currency else other).append(r)
        return own, other

    own_unpaid, other_unpaid = split("unpaid_invoices")
    own_unmatched, other_unmatched = split("unmatched")
    unpaid = _by_amount(own_unpaid)
    overdue = [r for r in unpaid if _overdue(r, last_day)]
    return Figures(
        currency,
        first_day,
        last_day,
        categories,
        other,
        unpaid,
        overdue,
        _by_amount(own_unmatched, unknown_first=True),
        unknown,
        _by_currency(other_unpaid),
        _by_currency(other_unmatched),
    )


def _plural(n: int, word: str) -> str:
    return f"{numbers.format_count(n)} {word}{'' if n == 1 else 's'}"


def sentences(f: Figures) -> dict[str, str]:
    """What the structured answer picks from: id -> a sentence written from the figures (markdown)."""
    found = {
        "net_result": (
            f"In {f.month} the team booked {f.amount(f.total('income'))} of income and "
            f"{f.amount(f.total('expense'))} of expenses, a net result of {f.amount(f.net)}."
        )
    }
    for kind, word, whole in (("income", "income", "all income"), ("expense", "expense", "all expenses")):
        top = next((c for c in f.categories if c.kind == kind), None)
        share = f.share(top) if top else None
        if top is not None and share is not None:
            found[f"largest_{kind}"] = (
                f"The largest {word} category was {as_text(top.category)} with {f.amount(top.total)} "
                f"({numbers.format_pct(share)} of {whole})."
            )
    if f.unpaid:
        found["unpaid_invoices"] = (
            f"{_plural(len(f.unpaid), 'invoice')} totalling {f.amount(f.sum_of(f.unpaid))}"
            f"{_not_summed(f.unpaid)} {'was' if len(f.unpaid) == 1 else 'were'} unpaid at month end."
        )
        found["overdue_invoices"] = (
            f"{_plural(len(f.overdue), 'unpaid invoice')} totalling {f.amount(f.sum_of(f.overdue))}"
            f"{_not_summed(f.overdue)} {'was' if len(f.overdue) == 1 else 'were'} past due at month end."
            if f.overdue
            else "No unpaid invoice was past due at month end."
        )
    else:
        # "Every invoice was paid" would be false while one in another currency is open.
        found["unpaid_invoices"] = f"Every invoice{_in_own(f, f.other_unpaid)} issued by month end was paid."
    found["unmatched_receipts"] = (
        f"{_plural(len(f.unmatched), 'receipt')} of the month totalling {f.amount(f.sum_of(f.unmatched))}"
        f"{_not_summed(f.unmatched)} {'has' if len(f.unmatched) == 1 else 'have'} no matching transaction."
        if f.unmatched
        else f"Every receipt of the month{_in_own(f, f.other_unmatched)} is matched to a transaction."
    )
    parts = [
        (f.other_currency, "transaction"),
        (len(f.other_unpaid), "unpaid invoice"),
        (len(f.other_unmatched), "unmatched receipt"),
    ]
    named = [_plural(n, word) for n, word in parts if n]
    if named:
        listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
        verb = "is" if sum(n for n, _ in parts) == 1 else "are"
        found["other_currencies"] = f"{listed} in other currencies {verb} in no total of this report."
    return found


def _in_own(f: Figures, other: list[dict[str, Any]]) -> str:
    return f" in {f.currency}" if other else ""


def allowed(f: Figures) -> Allowed:
    """Every number the narrative may state: the report's figures, and the month's own numbers."""
    major = [f.total("income"), f.total("expense"), f.net, f.sum_of(f.unpaid), f.sum_of(f.overdue)]
    major += [f.sum_of(f.unmatched), *(c.total for c in f.categories)]
    major += [m for r in f.unpaid + f.unmatched if (m := amount_of(r)) is not None]
    amounts = {numbers.minor_to_major(m, f.currency) for m in major}
    counts = [len(f.unpaid), len(f.overdue), len(f.unmatched), f.count("income"), f.count("expense")]
    counts += [c.count for c in f.categories]
    counts += [
        f.unknown_amount,
        unknown_count(f.unpaid),
        unknown_count(f.overdue),
        unknown_count(f.unmatched),
    ]
    # How many rows are in other currencies, never their amounts: a narrative number is checked
    # by value alone, and 3,000.00 EUR written as $3,000.00 would pass as the team's money.
    counts += [f.other_currency, len(f.other_unpaid), len(f.other_overdue), len(f.other_unmatched)]
    percents = {s for c in f.categories if (s := f.share(c)) is not None}
    calendar = {f.first_day.year, f.first_day.month, f.first_day.day, f.last_day.day}
    values = amounts | percents | {Decimal(n) for n in counts} | {Decimal(n) for n in calendar}
    return Allowed(values, percents, amounts, {f.first_day, f.last_day})


# ------------------------------------------------------------------ the artifact


def _code(text: str) -> str:
    return one_line(text).replace("`", "'")


def _invoice_line(row: dict[str, Any], amount: str, last_day: date) -> str:
    due_on = _day(row.get("due_on"))
    customer = as_text(str(row.get("customer_name") or "unknown customer"))
    late = " (overdue)" if _overdue(row, last_day) else ""
    due = f"due {due_on.isoformat()}" if due_on is not None else "no due date"
    return (
        f"- `{_code(str(row['id']))}` {as_text(str(row.get('number') or ''))} — {customer}: "
        f"{amount}, {due}{late}"
    )


def _receipt_line(row: dict[str, Any], amount: str) -> str:
    vendor = as_text(str(row.get("vendor_name") or "unknown vendor"))
    return f"- `{_code(str(row['id']))}` {vendor}: {amount}, received {str(row['received_on'])[:10]}"


def _per_currency(rows: list[dict[str, Any]], noun: str) -> str:
    """`3,450.50 EUR (2 invoices), 99.00 GBP (1 invoice)`: each currency's known amounts added up."""
    parts = []
    for code in sorted({str(r["currency"]) for r in rows}):
        mine = [r for r in rows if r["currency"] == code]
        known = sum(int(r["amount_cents"]) for r in mine if r.get("amount_cents") is not None)
        unknown = sum(1 for r in mine if r.get("amount_cents") is None)
        not_summed = (
            f", {numbers.format_count(unknown)} with amount unknown, not in the sum" if unknown else ""
        )
        parts.append(
            f"{numbers.format_amount(known, code, code=True)} ({_plural(len(mine), noun)}{not_summed})"
        )
    return ", ".join(parts)


def _other_lines(f: Figures, rows: list[dict[str, Any]], noun: str, top_n: int) -> list[str]:
    """The rows in other currencies, after the team's own: counted, totalled per currency, listed."""
    if not rows:
        return []
    overdue = f"; overdue: {_plural(len(f.other_overdue), 'invoice')}" if noun == "invoice" else ""
    lines = [
        "",
        f"In other currencies, in no sum above: {_plural(len(rows), noun)}: {_per_currency(rows, noun)}"
        f"{overdue}.",
        "",
    ]
    for row in rows[:top_n]:
        amount = _foreign_amount(row)
        lines.append(
            _invoice_line(row, amount, f.last_day) if noun == "invoice" else _receipt_line(row, amount)
        )
    if len(rows) > top_n:
        lines.append(f"- and {_plural(len(rows) - top_n, f'more {noun}')} in other currencies")
    return lines


def figure_lines(f: Figures, snapshot: TeamSnapshot, settings: ComplianceSettings) -> list[str]:
    """Everything after the narrative: code's alone, and the check's to rebuild exactly."""
    lines = ["## Totals by category", ""]
    for kind, label in (("income", "Income"), ("expense", "Expenses")):
        for c in (c for c in f.categories if c.kind == kind):
            lines.append(
                f"- {label}, {as_text(c.category)}: {f.amount(c.total)} ({_plural(c.count, 'transaction')})"
            )
        lines.append(f"- {label} in all: {f.amount(f.total(kind))} ({_plural(f.count(kind), 'transaction')})")
    lines.append(f"- Net result: {f.amount(f.net)}")
    if f.other_currency:
        lines.append(f"- Not totalled: {_plural(f.other_currency, 'transaction')} in other currencies")
    if f.unknown_amount:
        lines.append(f"- Not totalled: {_plural(f.unknown_amount, 'transaction')} with amount unknown")
    lines += ["", "## Unpaid invoices at month end", ""]
    if f.unpaid:
        lines.append(
            f"Unpaid: {_plural(len(f.unpaid), 'invoice')}, {f.amount(f.sum_of(f.unpaid))} in all"
            f"{_not_summed(f.unpaid)}; overdue: {_plural(len(f.overdue), 'invoice')}, "
            f"{f.amount(f.sum_of(f.overdue))}{_not_summed(f.overdue)}."
        )
        lines.append("")
        lines += [_invoice_line(row, f.shown(row), f.last_day) for row in f.unpaid[: settings.top_n]]
        if len(f.unpaid) > settings.top_n:
            lines.append(f"- and {_plural(len(f.unpaid) - settings.top_n, 'smaller invoice')}")
    else:
        lines.append(f"Unpaid{_in_own(f, f.other_unpaid)}: none.")
    lines += _other_lines(f, f.other_unpaid, "invoice", settings.top_n)
    lines += ["", "## Unmatched receipts", ""]
    if f.unmatched:
        lines.append(
            f"Received in {f.month} with no matching transaction: {_plural(len(f.unmatched), 'receipt')}, "
            f"{f.amount(f.sum_of(f.unmatched))} in all{_not_summed(f.unmatched)}."
        )
        lines.append("")
        lines += [_receipt_line(row, f.shown(row)) for row in f.unmatched[: settings.top_n]]
        rest = f.unmatched[settings.top_n :]
        if rest and unknown_count(rest):
            lines.append(f"- and {_plural(len(rest), 'more receipt')}{_not_summed(rest)}")
        elif rest:
            lines.append(f"- and {_plural(len(rest), 'smaller receipt')}")
    else:
        lines.append(f"Unmatched{_in_own(f, f.other_unmatched)}: none.")
    lines += _other_lines(f, f.other_unmatched, "receipt", settings.top_n)
    return [*lines, ""]


def _structured_schema(ids: list[str], settings: ComplianceSettings) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["summary"],
        "properties": {
            "summary": {
                "type": "array",
                "minItems": min(2, len(ids)),
                "maxItems": min(settings.sentences_max, len(ids)),
                "items": {"type": "string", "enum": ids},
            }
        },
    }


def _loop_schema(settings: ComplianceSettings) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["narrative", "items"],
        "properties": {
            "narrative": {
                "type": "array",
                "minItems": 1,
                "maxItems": settings.sentences_max,
                "items": {"type": "string", "minLength": 3, "maxLength": SENTENCE_MAX},
            },
            "items": {"type": "integer", "minimum": 1},
        },
    }


# ------------------------------------------------------------------ the model's part


def plan(
    snapshot: TeamSnapshot, settings: ComplianceSettings, mode: Literal["loop", "structured"]
) -> KindPlan:
    f = figures(snapshot)
    found = sentences(f)
    # What a person signing off the month acts on first: open invoices and receipts, then results.
    order = sorted(found, key=lambda k: (k not in ATTENTION, list(found).index(k)))
    data = ["<data>", *(f"- {key}: {as_data(unescape(found[key]))}" for key in order), "</data>"]
    if mode == "structured":
        prompt = [
            f"Pick the 2 to {settings.sentences_max} statements that say the most about the team's "
            f"money in {f.month}, most important first, by their ids. Use ONLY the data below.",
            # No example with real ids: the embedded model copied one verbatim for every team
            # (seen 2026-12-02). The schema's enum says what an answer looks like.
            'Answer as {"summary": [ids]}.',
            *data,
        ]
        return KindPlan(prompt="\n".join(prompt), result_schema=_structured_schema(list(found), settings))
    prompt = [
        f"Write the summary of the team's month-end compliance report for {f.month} in 1 to "
        f"{settings.sentences_max} sentences, most important first. Use ONLY the figures below, written "
        "exactly as they are (every number you write is checked against them; no rounding, no sums of "
        "your own), and name no customer, vendor or category the figures do not name. Put the "
        "sentences in the RESULT's `narrative` and their count in `items`.",
        *data,
    ]
    return KindPlan(prompt="\n".join(prompt), result_schema=_loop_schema(settings))


def _narrative(snapshot: TeamSnapshot, answer: dict[str, Any]) -> list[str]:
    if "summary" in answer:
        found = sentences(figures(snapshot))
        picked: list[str] = []
        for key in answer["summary"] if isinstance(answer["summary"], list) else []:
            # Grammars do not enforce uniqueItems, and an enum is not trusted after the fact.
            if key in found and found[key] not in picked:
                picked.append(found[key])
        return picked
    texts = answer.get("narrative")
    return (
        [as_text(one_line(scrub(str(t)))) for t in texts if str(t).strip()] if isinstance(texts, list) else []
    )


# ------------------------------------------------------------------ the artifact


def heading(snapshot: TeamSnapshot, title: str) -> str:
    return f"# {one_line(title)} — {as_text(snapshot.team.name)}, {figures(snapshot).month}"


def expected(snapshot: TeamSnapshot, settings: ComplianceSettings, heading: str, narrative: list[str]) -> str:
    f = figures(snapshot)
    intro = (
        f"{f.first_day.isoformat()} to {f.last_day.isoformat()} in {as_text(snapshot.team.timezone)}; "
        f"amounts in {f.currency}."
    )
    summary = " ".join(narrative) if narrative else "(no summary)"
    return "\n".join(
        [heading, "", intro, "", SUMMARY_HEADING, "", summary, "", *figure_lines(f, snapshot, settings)]
    )


def render(
    snapshot: TeamSnapshot, answer: dict[str, Any], settings: ComplianceSettings, title: str
) -> Rendered:
    narrative = _narrative(snapshot, answer)
    markdown = expected(snapshot, settings, heading(snapshot, title), narrative)
    plain = [unescape(s) for s in narrative]
    return Rendered(markdown, {"narrative": plain, "items": len(plain)})


def check(
    snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: ComplianceSettings
) -> None:
    check_heading(markdown, ARTIFACT_FILE, f" — {as_text(snapshot.team.name)}, {figures(snapshot).month}")
    lines = markdown.split("\n")
    if SUMMARY_HEADING not in lines or lines.index(SUMMARY_HEADING) + 2 >= len(lines):
        raise CheckFailed(f"{ARTIFACT_FILE} has no '{SUMMARY_HEADING}' section")
    summary = lines[lines.index(SUMMARY_HEADING) + 2]
    claimed = result.get("narrative")
    if not isinstance(claimed, list) or not claimed:
        raise CheckFailed("the RESULT has no narrative: the report's summary cannot be empty")
    narrative = [as_text(one_line(str(s))) for s in claimed]
    if " ".join(narrative) != summary:
        raise CheckFailed("the RESULT's narrative is not the summary of the report")
    if markdown != expected(snapshot, settings, lines[0], narrative):
        raise CheckFailed(f"{ARTIFACT_FILE}'s figures are not those of the snapshot")
    if result.get("items") != len(claimed):
        raise CheckFailed(
            f"RESULT items is {result.get('items')!r}; the narrative has {len(claimed)} sentences"
        )
    a = allowed(figures(snapshot))
    text = unescape(summary)
    missing = numbers.unsupported_numbers(
        text, a.values, dates=a.days, percents=a.percents, amounts=a.amounts
    )
    if missing:
        raise CheckFailed(
            f"the summary states {missing[0]!r}, which no figure of the report supports at that "
            f"precision: {text[:200]!r}"
        )
    # The words of code's own statements (what structured mode picks from) are the kind's.
    names = Names.of(snapshot.model_dump(mode="json"), vocabulary=sentences(figures(snapshot)).values())
    invented = names.unknown(text)
    if invented:
        raise CheckFailed(
            f"the summary names {invented[0]!r}, which is in no row of the snapshot: {text[:200]!r}"
        )


def preview(markdown: str) -> str:
    lines = markdown.split("\n")
    if SUMMARY_HEADING in lines and lines.index(SUMMARY_HEADING) + 2 < len(lines):
        return unescape(lines[lines.index(SUMMARY_HEADING) + 2])
    return ""

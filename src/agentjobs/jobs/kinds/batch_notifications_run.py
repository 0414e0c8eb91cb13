"""batch_notifications at run time: the window's counts, the optional sentence of the model, the
summary rendered in code and its check (the kind, batch_notifications.py, delegates here; a DAG
parse never loads this module)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any, Literal

from agentjobs.agent.scrub import scrub
from agentjobs.jobs import numbers
from agentjobs.jobs.kinds.base import CheckFailed, KindPlan, Rendered, TeamSnapshot, check_heading
from agentjobs.jobs.kinds.batch_notifications_settings import ARTIFACT_FILE, EVENTS, Settings, window_key
from agentjobs.jobs.markdown_text import as_text, one_line, unescape
from agentjobs.jobs.names import Names
from agentjobs.jobs.period import Period

SUMMARY_MAX = 200  # characters of the model's one sentence


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


class WindowPeriod(Period):
    """A window's period: keyed by its end (UTC, to the minute), not by a day, so each window has
    its own folder and its own delivery."""

    __slots__ = ()  # as immutable as the Period it is

    @property
    def key(self) -> str:
        return window_key(self.end)


# ------------------------------------------------------------------ what the kind's methods do


def plan(snapshot: TeamSnapshot, settings: Settings, mode: Literal["loop", "structured"]) -> KindPlan:
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


def heading(snapshot: TeamSnapshot, title: str) -> str:
    at = snapshot.period.end.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"# {one_line(title)} — {as_text(snapshot.team.name)}, {at}"


def body(snapshot: TeamSnapshot, settings: Settings) -> list[str]:
    c = counts(snapshot, settings)
    if not c.total:
        return ["Nothing new."]
    lines = [headline(c), ""]
    lines += [category_line(snapshot, k, n, settings) for k, n in c.by_category.items()]
    return lines


def render(snapshot: TeamSnapshot, answer: dict[str, Any], settings: Settings, title: str) -> Rendered:
    c = counts(snapshot, settings)
    sentence = ""
    if settings.summary == "model":
        sentence = _clean_sentence(answer.get("summary"), c, known_names(snapshot))
    lines = [heading(snapshot, title), "", *body(snapshot, settings)]
    if sentence and c.total:
        lines[4:4] = [as_text(sentence), ""]  # after the headline, before the lists
    markdown = "\n".join([*lines, ""])
    return Rendered(markdown, {"items": c.total, "summary": sentence})


def check(snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: Settings) -> None:
    c = counts(snapshot, settings)
    suffix = heading(snapshot, "x").split(" — ", 1)[1]
    check_heading(markdown, ARTIFACT_FILE, f" — {suffix}")
    lines = markdown.split("\n")
    expected_body = body(snapshot, settings)
    sentence = ""
    if c.total and len(lines) > 4 and lines[4] and not lines[4].startswith("- "):
        sentence = lines[4]
        problem = sentence_problem(unescape(sentence), c, known_names(snapshot))
        if problem:
            raise CheckFailed(f"the summary sentence {problem}: {sentence[:200]!r}")
        if settings.summary != "model":
            raise CheckFailed("the summary has a sentence, but the kind's `summary` is none")
    expected = [lines[0], "", *expected_body]
    if sentence:
        expected[4:4] = [sentence, ""]
    if lines != [*expected, ""]:
        raise CheckFailed(f"{ARTIFACT_FILE} is not the counts and records of the window's claimed events")
    if result.get("items") != c.total:
        raise CheckFailed(f"the result says {result.get('items')!r} items; the window claimed {c.total}")


def preview(markdown: str) -> str:
    lines = [line for line in markdown.splitlines() if line.strip()]
    return lines[1].strip() if len(lines) > 1 else ""

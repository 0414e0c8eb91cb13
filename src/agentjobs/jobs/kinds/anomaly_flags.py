"""The `anomaly_flags` kind: each team's previous local day checked for spikes, drops and double charges.

Detection is code (anomaly_detect.py); the model is asked only to say, per flag, why it may
have happened or what to check, in a structured answer whose ids are an enum of the day's
flags. anomalies.md is rendered here with every number written by code, and the check holds
the model's words to the numbers of their own flag and to the names of the snapshot (a vendor,
customer or person it does not hold fails, jobs/names.py). A clean day needs no model at all
and is a normal, good result (`items` 0).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.anomaly_settings import AMOUNT_METRICS, METRICS, AnomalySettings
from agentjobs.jobs.kinds.base import CheckFailed, Query, Rendered, Team, TeamSnapshot, utc_naive
from agentjobs.jobs.period import Period, period_for

if TYPE_CHECKING:  # annotations only: the tools' and the detection's modules load when a task runs
    from agentjobs.agent.tools import Tool
    from agentjobs.jobs.kinds.anomaly_detect import Detection, Flag, MetricFlag
    from agentjobs.jobs.kinds.base import KindPlan
    from agentjobs.jobs.names import Names
    from agentjobs.jobs.numbers import Allowed

ARTIFACT_FILE = "anomalies.md"
WHY_MAX = 160
WHY_MIN = 3
METRIC_LABELS = {
    "orders": "Orders",
    "order_revenue": "Order revenue",
    "transactions": "Transactions",
    "expenses": "Expenses",
}
METRIC_MEANING = {
    "orders": "the number of orders placed (not cancelled) on the team's local day",
    "order_revenue": "the total amount of the orders placed (not cancelled) on the team's local day",
    "transactions": "the number of transactions (income and expense) booked on the team's local day",
    "expenses": "the total amount of the expense transactions booked on the team's local day",
}
# A fixed one-line example: small models copy a placeholder like "why it matters" verbatim.
# It must fit any flag: the embedded model copies the example onto every flag, and "fewer orders"
# beside a duplicate charge would mislead (seen 2026-12-02).
_EXAMPLE = '{"explanations": {"<an id from the list>": "Unusual for this team; ask the owner to check it"}}'

ORDERS_SQL = (
    "SELECT id, placed_at, customer_id, amount_cents, status FROM orders "
    "WHERE team_id = :team_id AND placed_at >= :start AND placed_at < :end ORDER BY placed_at, id"
)
TRANSACTIONS_SQL = (
    "SELECT t.id, t.occurred_at, t.kind, t.category, t.amount_cents, t.currency, t.vendor_id, "
    "v.name AS vendor_name FROM transactions t LEFT JOIN vendors v ON v.id = t.vendor_id "
    "WHERE t.team_id = :team_id AND t.occurred_at >= :start AND t.occurred_at < :end "
    "ORDER BY t.occurred_at, t.id"
)

INPUTS = (
    Input(
        "orders",
        "the team's orders of the window",
        (
            Column("id", "text"),
            Column("placed_at", "timestamp", meaning="when it was placed (UTC)"),
            Column("customer_id", "text", nullable=True, meaning="NULL for a guest checkout"),
            Column("amount_cents", "integer", meaning="the amount in minor units"),
            Column("status", "text"),
        ),
        ("team_id", "start", "end"),
        ORDERS_SQL,
        "src.team_id = :team_id AND src.placed_at >= :start AND src.placed_at < :end",
        "src.placed_at, src.id",
        ("team_id",),
    ),
    Input(
        "transactions",
        "the team's transactions of the window, with the vendor's name",
        (
            Column("id", "text"),
            Column("occurred_at", "timestamp", meaning="when it was booked (UTC)"),
            Column("kind", "text", meaning="'income' or 'expense'"),
            Column("category", "text"),
            Column("amount_cents", "integer", meaning="the amount in minor units, positive"),
            Column("currency", "text", meaning="ISO 4217 code", check="currency"),
            Column("vendor_id", "text", nullable=True),
            Column("vendor_name", "text", nullable=True, personal=True),
        ),
        ("team_id", "start", "end"),
        TRANSACTIONS_SQL,
        "src.team_id = :team_id AND src.occurred_at >= :start AND src.occurred_at < :end",
        "src.occurred_at, src.id",
        ("team_id",),
    ),
)


def _count(value: float) -> str:
    from agentjobs.jobs.numbers import format_count  # run time: a DAG parse formats no number

    return format_count(int(value)) if float(value).is_integer() else f"{value:,.1f}"


def _quantity(metric: str, value: float, currency: str) -> str:
    from agentjobs.jobs.numbers import format_amount

    if metric in AMOUNT_METRICS:
        return format_amount(round(value), currency)
    return _count(value)


def change_pct(flag: MetricFlag) -> Decimal:
    """The day against the median, in percent (the median is not 0)."""
    median = Decimal(str(flag.median))
    return (Decimal(flag.value) - median) / median * 100


def fact(flag: Flag, currency: str) -> str:
    """What code says of a flag: the text before the model's `why` in its bullet (escaped)."""
    from agentjobs.jobs.kinds.anomaly_detect import MetricFlag  # run time: the detection is not parse's
    from agentjobs.jobs.markdown_text import as_text
    from agentjobs.jobs.numbers import format_amount, format_pct  # run time, as the detection

    if isinstance(flag, MetricFlag):
        change = f"{format_pct(change_pct(flag), signed=True)}, " if flag.median else ""
        return (
            f"{METRIC_LABELS[flag.metric]}: {_quantity(flag.metric, flag.value, currency)} against a median "
            f"of {_quantity(flag.metric, flag.median, currency)} over the previous {flag.history_days} days "
            f"({change}robust z {flag.z:+.1f})"
        )
    amount = format_amount(flag.amount_cents, flag.currency or currency)
    return (
        f"Duplicate charge: {amount} to {as_text(flag.vendor_name)} in transaction "
        f"{as_text(flag.transaction_id)}, the same vendor and amount as {as_text(flag.original_id)} "
        "earlier that day"
    )


def allowed_numbers(flag: Flag, currency: str) -> Allowed:
    from agentjobs.jobs.kinds.anomaly_detect import MetricFlag  # run time: the detection is not parse's
    from agentjobs.jobs.numbers import Allowed, extract, minor_to_major  # run time, as the detection

    day = flag.day
    values = [Decimal(day.year), Decimal(day.month), Decimal(day.day)]
    percents: list[Decimal] = []
    amounts: list[Decimal] = []
    if isinstance(flag, MetricFlag):
        value, median = Decimal(flag.value), Decimal(str(flag.median))
        if flag.metric in AMOUNT_METRICS:
            amounts = [minor_to_major(round(v), currency) for v in (value, median, abs(value - median))]
            values += amounts
        else:
            values += [value, median, abs(value - median)]
        values += [Decimal(str(flag.z)), Decimal(flag.history_days)]
        if median:
            percents = [change_pct(flag)]  # "-70%"; "fell 70%" is compared unsigned
            values += [*percents, value / median]  # "0.3 of a usual day"
        if value:
            values.append(median / value)  # "3x the usual"
    else:
        amounts = [minor_to_major(flag.amount_cents, flag.currency or currency)]
        values += [*amounts, Decimal(2)]
        # Ids and names hold digits ("tx-0012", "Cloud 9") the model may quote.
        for text in (flag.transaction_id, flag.original_id, flag.vendor_id, flag.vendor_name):
            values += [abs(w.value) for w in extract(text) if not w.is_date]
    return Allowed(values, percents, amounts)


def explanation_schema(flag_ids: list[str]) -> dict[str, Any]:
    """One required `why` per flag id, keyed by the id: a grammar-constrained model cannot name a
    flag twice or leave one out (an array of {id, why} could: llama.cpp's grammar does not enforce
    uniqueItems, and the embedded model explained one flag twice, seen 2026-12-02)."""
    why = {"type": "string", "minLength": WHY_MIN, "maxLength": WHY_MAX}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["explanations"],
        "properties": {
            "explanations": {
                "type": "object",
                "additionalProperties": False,
                "required": list(flag_ids),
                "properties": {flag_id: dict(why) for flag_id in flag_ids},
            }
        },
    }


def explanation_entries(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer's explanations as [{id, why}], whether keyed by id (the schema) or listed."""
    given = answer.get("explanations", [])
    if isinstance(given, dict):
        return [{"id": flag_id, "why": why} for flag_id, why in given.items()]
    return [e for e in given if isinstance(e, dict)]


class AnomalyFlagsKind:
    """Hourly in UTC; each team is served once a day, at its own `local_hour`, for its previous day."""

    name: ClassVar[str] = "anomaly_flags"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS  # the datasets it reads (jobs/inputs.py)
    settings_model: ClassVar[type[BaseModel]] = AnomalySettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "0 * * * *"

    # ------------------------------------------------------------------ which teams, which day

    def due(self, team: Team, when: datetime, settings: AnomalySettings) -> bool:
        tz = ZoneInfo(team.timezone)
        local = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(tz)
        if local.fold:
            return False  # the repeated hour of a DST fall-back: the team was served an hour ago
        if local.hour == settings.local_hour:
            return True
        # On a spring-forward day the local hour may not exist: the first hour after the gap serves.
        wall = datetime.combine(local.date(), time(settings.local_hour))
        exists = wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall
        return not exists and local.hour == settings.local_hour + 1

    def period(self, team: Team, when: datetime, settings: AnomalySettings) -> Period:
        return period_for(when, team.timezone, 1)

    def queries(self, team: Team, period: Period, settings: AnomalySettings) -> dict[str, Query]:
        # Aware arithmetic keeps local wall time: the window starts at a local midnight.
        params = {
            "team_id": team.id,
            "start": utc_naive(period.start - timedelta(days=settings.window_days)),
            "end": utc_naive(period.end),
        }
        return {
            "orders": Query(ORDERS_SQL, dict(params)),
            "transactions": Query(TRANSACTIONS_SQL, dict(params)),
        }

    # ------------------------------------------------------------------ detection and the model

    def detection(self, snapshot: TeamSnapshot, settings: AnomalySettings) -> Detection:
        # Run time only: the detection's flags and code cost every DAG parse milliseconds.
        from agentjobs.jobs.kinds.anomaly_detect import detect

        day = date.fromisoformat(snapshot.period.key)
        return detect(snapshot.tables, snapshot.team.timezone, day, settings)

    def plan(
        self, snapshot: TeamSnapshot, settings: AnomalySettings, mode: Literal["loop", "structured"]
    ) -> KindPlan:
        from agentjobs.jobs.kinds.base import KindPlan  # run time: a DAG parse plans no run
        from agentjobs.jobs.markdown_text import unescape
        from agentjobs.jobs.prompt_data import as_data

        found = self.detection(snapshot, settings)
        if not found.flags:
            return KindPlan(prompt="", answer={"explanations": []}, answer_reason="no anomalies flagged")
        currency = snapshot.team.currency
        lines = [
            f"Anomalies were flagged in the data of team {as_data(snapshot.team.name)} for "
            f"{snapshot.period.key} ({snapshot.team.timezone}). For each flag write one short line "
            f"(`why`, at most {WHY_MAX} characters): what it may mean or what to check first.",
            "The numbers are printed beside your line already: write no numbers of your own, and "
            "name no vendor, customer or person that the data does not name.",
        ]
        if mode == "loop":
            lines.append("Call flag_details with a flag's id for what it measures and how it was computed.")
        lines += [f"Example: {_EXAMPLE}", "<data>"]
        lines += [f"- id: {flag.id} | {as_data(unescape(fact(flag, currency)))}" for flag in found.flags]
        lines.append("</data>")
        tools = [flag_details_tool(snapshot, found)] if mode == "loop" else []
        return KindPlan(
            prompt="\n".join(lines),
            result_schema=explanation_schema([flag.id for flag in found.flags]),
            tools=tools,
        )

    # ------------------------------------------------------------------ the artifact

    def render(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: AnomalySettings, title: str
    ) -> Rendered:
        from agentjobs.agent.scrub import scrub
        from agentjobs.jobs.markdown_text import as_text

        found = self.detection(snapshot, settings)
        currency = snapshot.team.currency
        flags = found.by_id()
        entries = explanation_entries(answer)
        # One bullet per explanation, in flag order: a flag explained twice, not at all or an id
        # that is no flag stays visible in the artifact, so the check names it.
        order = {flag_id: n for n, flag_id in enumerate(flags)}
        entries.sort(key=lambda e: order.get(str(e.get("id")), len(order)))
        bullets = []
        for entry in entries:
            flag_id = str(entry.get("id"))
            why = as_text(scrub(str(entry.get("why", ""))))
            flag = flags.get(flag_id)
            what = fact(flag, currency) if flag else "(not a flag of this day)"
            bullets.append(f"- `{_code(flag_id)}` {what} — {why}")
        lines = [self.heading(snapshot, title), "", summary_line(snapshot, found, settings), ""]
        if bullets:
            lines += [*bullets, ""]
        return Rendered("\n".join(lines), {"path": ARTIFACT_FILE, "items": len(found.flags)})

    def heading(self, snapshot: TeamSnapshot, title: str) -> str:
        from agentjobs.jobs.markdown_text import as_text, one_line

        return f"# {one_line(title)} — {as_text(snapshot.team.name)}, {snapshot.period.key}"

    def check(
        self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: AnomalySettings
    ) -> None:
        from agentjobs.jobs.markdown_text import as_text, unescape
        from agentjobs.jobs.numbers import unsupported_numbers

        found = self.detection(snapshot, settings)
        flags = found.by_id()
        currency = snapshot.team.currency
        lines = [line for line in markdown.splitlines() if line.strip()]
        suffix = f" — {as_text(snapshot.team.name)}, {snapshot.period.key}"
        if not lines or not lines[0].startswith("# ") or not lines[0].endswith(suffix):
            raise CheckFailed(f"{ARTIFACT_FILE} does not start with the heading '# <title>{suffix}'")
        expected_summary = summary_line(snapshot, found, settings)
        if len(lines) < 2 or lines[1] != expected_summary:
            raise CheckFailed(f"{ARTIFACT_FILE}'s summary line is not {expected_summary!r}")
        explained: set[str] = set()
        names = known_names(snapshot, found)
        for line in lines[2:]:
            flag_id, rest = _parse_bullet(line)
            flag = flags.get(flag_id)
            if flag is None:
                raise CheckFailed(f"{ARTIFACT_FILE} explains {flag_id!r}, which is not a flag of this day")
            if flag_id in explained:
                raise CheckFailed(f"{ARTIFACT_FILE} explains flag {flag_id!r} more than once")
            explained.add(flag_id)
            prefix = fact(flag, currency) + " — "
            if not rest.startswith(prefix):
                raise CheckFailed(f"the numbers of flag {flag_id!r} are not the ones computed from the data")
            why = unescape(rest[len(prefix) :])
            if len(why.strip()) < WHY_MIN:
                raise CheckFailed(f"flag {flag_id!r} has no explanation")
            allowed = allowed_numbers(flag, currency)
            invented = unsupported_numbers(
                why, allowed.values, dates=[flag.day], percents=allowed.percents, amounts=allowed.amounts
            )
            if invented:
                raise CheckFailed(
                    f"the explanation of flag {flag_id!r} states {', '.join(invented)}, which the data of "
                    f"{snapshot.period.key} does not support: {why!r}"
                )
            unnamed = names.unknown(why)
            if unnamed:
                raise CheckFailed(
                    f"the explanation of flag {flag_id!r} names {unnamed[0]!r}, which is in no row of "
                    f"the snapshot: {why!r}"
                )
        missing = [flag_id for flag_id in flags if flag_id not in explained]
        if missing:
            raise CheckFailed(f"{ARTIFACT_FILE} does not explain flag(s) {', '.join(missing)}")
        if result.get("items") != len(flags):
            raise CheckFailed(
                f"the result says {result.get('items')!r} items; {len(flags)} anomalies were flagged"
            )

    def preview(self, markdown: str) -> str:
        for line in markdown.splitlines():
            if line.strip() and not line.startswith("#"):
                return line.strip()
        return ""


def known_names(snapshot: TeamSnapshot, found: Detection) -> Names:
    """What a `why` may name: the snapshot's strings (vendors, ids, the team), the metrics and flag ids."""
    from agentjobs.jobs.names import Names  # run time: the name check is not a parse's

    vocabulary = [*METRIC_LABELS.values(), *METRICS, *(flag.id for flag in found.flags)]
    return Names.of(snapshot.model_dump(mode="json"), vocabulary=vocabulary)


def _code(text: str) -> str:
    """An id inside a code span: a backtick in it (never in our ids) cannot close the span early."""
    return text.replace("`", "'")


def _parse_bullet(line: str) -> tuple[str, str]:
    if not line.startswith("- `"):
        raise CheckFailed(f"{ARTIFACT_FILE} has a line that is not a flag's bullet: {line[:120]!r}")
    flag_id, sep, rest = line[3:].partition("` ")
    if not sep:
        raise CheckFailed(f"{ARTIFACT_FILE} has a bullet without a flag id: {line[:120]!r}")
    return flag_id, rest


def summary_line(snapshot: TeamSnapshot, found: Detection, settings: AnomalySettings) -> str:
    day, tz = snapshot.period.key, snapshot.team.timezone
    n = len(found.flags)
    if n:
        return f"{n} {'anomaly' if n == 1 else 'anomalies'} flagged for {day} ({tz})."
    checked = [METRIC_LABELS[m].lower() for m in settings.metrics]
    if settings.duplicate_charges:
        checked.append("duplicate charges")
    what = ", ".join(checked[:-1]) + " and " + checked[-1] if len(checked) > 1 else "".join(checked)
    if settings.metrics and found.history_days < settings.min_history_days:
        # Honest about a young business: "no anomalies" would claim a judgement never made.
        return (
            f"No anomalies found for {day} ({tz}); the metrics were not judged: "
            f"{found.history_days} of the {settings.min_history_days} days of history needed."
        )
    return f"No anomalies found for {day} ({tz}); checked: {what or 'nothing, no check is enabled'}."


def flag_details_tool(snapshot: TeamSnapshot, found: Detection) -> Tool:
    from agentjobs.agent.tools import tool_from_function  # run time: the tools' module is not parse's
    from agentjobs.jobs.kinds.anomaly_detect import MetricFlag

    flags = found.by_id()
    currency = snapshot.team.currency

    def flag_details(id: str) -> str:
        """What one flag of the day measures and the numbers computed for it (read-only)."""
        from agentjobs.jobs.numbers import format_amount
        from agentjobs.jobs.prompt_data import as_data

        flag = flags.get(id)
        if flag is None:
            raise ValueError(f"no flag {id!r}; the flags of {snapshot.period.key} are: {', '.join(flags)}")
        details: dict[str, Any] = {
            "id": flag.id,
            "day": flag.day.isoformat(),
            "weekday": flag.day.strftime("%A"),
        }
        if isinstance(flag, MetricFlag):
            details |= {
                "metric": flag.metric,
                "measures": METRIC_MEANING[flag.metric],
                "value": _quantity(flag.metric, flag.value, currency),
                "median_of_previous_days": _quantity(flag.metric, flag.median, currency),
                "previous_days": flag.history_days,
                "robust_z": flag.z,
                "direction": "above usual" if flag.z > 0 else "below usual",
            }
        else:
            details |= {
                "kind": "duplicate charge",
                "transaction_id": flag.transaction_id,
                "same_as_transaction_id": flag.original_id,
                "vendor": as_data(flag.vendor_name),
                "amount": format_amount(flag.amount_cents, flag.currency or currency),
            }
        return json.dumps(details, ensure_ascii=False)

    return tool_from_function(flag_details)


KIND = AnomalyFlagsKind()

__all__ = ["ARTIFACT_FILE", "KIND", "METRICS", "AnomalyFlagsKind", "AnomalySettings", "explanation_schema"]

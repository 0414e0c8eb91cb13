"""The `compliance_report` kind: each team's previous calendar month, at 06:00 on the 1st (team time).

Every figure is computed here from the snapshot: income and expenses by category, the invoices
still unpaid at month end (and the overdue ones), the receipts of the month that no transaction
matches. Invoices and receipts in another currency than the team's are in none of those sums
and are listed apart, totalled per currency (a month-end report does not leave money out
without a word). The model writes only the short narrative on top:
- structured mode (the embedded model): it picks, from an enum, which of the sentences written
  here from the figures say the most about the month, most important first;
- loop mode (a capable model): it words 1-4 sentences itself from the figures in the prompt.
Either way `check` rebuilds everything but the narrative and needs the artifact to equal it,
and reads every number back out of the narrative: one the figures do not support fails the
run (no fallback to code's sentences), and so does a name in no row of the snapshot (a
customer, vendor or category it does not hold, jobs/names.py). report.md is then rendered to
PDF (`document`), stored once per team and month, and linked in the team's message
(operators/team_publish.py).
This module is what a DAG parse and the fetch need: the spec section
(compliance_report_settings.py), the inputs, who is due and which month. The figures, the
prompt, the renderer and the check (compliance_report_run.py) load when a task first asks.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.base import Query, Team, TeamSnapshot, utc_naive
from agentjobs.jobs.kinds.compliance_report_settings import ARTIFACT_FILE, ComplianceSettings
from agentjobs.jobs.kinds.overdue_reminders import serves_local_hour
from agentjobs.jobs.period import Period
from agentjobs.lazy_names import forwarded

if TYPE_CHECKING:  # annotations only: the run-time half loads when a task runs
    from agentjobs.jobs.kinds.base import KindPlan, Rendered

TRANSACTIONS_SQL = (
    "SELECT id, occurred_at, kind, category, amount_cents, currency FROM transactions "
    "WHERE team_id = :team_id AND occurred_at >= :start AND occurred_at < :end ORDER BY occurred_at, id"
)
# Unpaid *at month end*: issued by then and not paid before the month ended. A later payment does
# not change the month's report, so a backfill of the month reads the same figures.
UNPAID_SQL = (
    "SELECT i.id, i.number, i.due_on, i.amount_cents, i.currency, c.name AS customer_name "
    "FROM invoices i LEFT JOIN customers c ON c.id = i.customer_id "
    "WHERE i.team_id = :team_id AND i.issued_on <= :last_day AND (i.paid_at IS NULL OR i.paid_at >= :end) "
    "ORDER BY i.due_on, i.id"
)
UNMATCHED_SQL = (
    "SELECT r.id, r.received_on, r.amount_cents, r.currency, v.name AS vendor_name "
    "FROM receipts r LEFT JOIN vendors v ON v.id = r.vendor_id "
    "WHERE r.team_id = :team_id AND r.received_on >= :first_day AND r.received_on <= :last_day "
    "AND r.transaction_id IS NULL ORDER BY r.received_on, r.id"
)

INPUTS = (
    Input(
        "transactions",
        "the team's transactions of the month",
        (
            Column("id", "text"),
            Column("occurred_at", "timestamp", meaning="when it was booked (UTC)"),
            Column("kind", "text", meaning="'income' or 'expense'"),
            Column("category", "text"),
            Column("amount_cents", "integer", meaning="the amount in minor units, positive"),
            Column("currency", "text", meaning="ISO 4217 code", check="currency"),
        ),
        ("team_id", "start", "end"),
        TRANSACTIONS_SQL,
        "src.team_id = :team_id AND src.occurred_at >= :start AND src.occurred_at < :end",
        "src.occurred_at, src.id",
        ("team_id",),
    ),
    Input(
        "unpaid_invoices",
        "invoices issued by the month's last day and not paid before it ended",
        (
            Column("id", "text"),
            Column("number", "text", meaning="the invoice number people know it by"),
            Column("due_on", "date", nullable=True, meaning="NULL: no due date (unpaid, never overdue)"),
            Column("amount_cents", "integer", meaning="the amount in minor units"),
            Column("currency", "text", meaning="ISO 4217 code", check="currency"),
            Column("customer_name", "text", nullable=True, personal=True),
        ),
        ("team_id", "last_day", "end"),
        UNPAID_SQL,
        "src.team_id = :team_id AND src.issued_on <= :last_day "
        "AND (src.paid_at IS NULL OR src.paid_at >= :end)",
        "src.due_on, src.id",
        ("team_id", "issued_on", "paid_at"),
    ),
    Input(
        "unmatched",
        "receipts of the month with no transaction linked",
        # A receipt whose OCR failed has no amount or currency, and is one the officer must see:
        # listed as "amount unknown", counted, never added to a total.
        (
            Column("id", "text"),
            Column("received_on", "date"),
            Column(
                "amount_cents",
                "integer",
                nullable=True,
                meaning="the amount in minor units; NULL: not read (listed as amount unknown)",
            ),
            Column(
                "currency",
                "text",
                nullable=True,
                meaning="ISO 4217 code; NULL: not read (the amount is then unknown too)",
                check="currency",
            ),
            Column("vendor_name", "text", nullable=True, personal=True),
        ),
        ("team_id", "first_day", "last_day"),
        UNMATCHED_SQL,
        "src.team_id = :team_id AND src.received_on >= :first_day AND src.received_on <= :last_day "
        "AND src.transaction_id IS NULL",
        "src.received_on, src.id",
        ("team_id", "transaction_id"),
    ),
)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class ComplianceReport:
    """Hourly on the UTC days that can be a team's 1st; each team served once, at its own local_hour."""

    name: ClassVar[str] = "compliance_report"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS  # the datasets it reads (jobs/inputs.py)
    settings_model: ClassVar[type[BaseModel]] = ComplianceSettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    # The 1st, 06:00, in UTC-12 .. UTC+14 is an hour of the last day of a month or of the 1st in UTC.
    default_schedule: ClassVar[str] = "0 * 1,28-31 * *"

    def due(self, team: Team, when: datetime, settings: ComplianceSettings) -> bool:
        local = _aware(when).astimezone(ZoneInfo(team.timezone))
        return local.day == 1 and serves_local_hour(team.timezone, when, settings.local_hour)

    def period(self, team: Team, when: datetime, settings: ComplianceSettings) -> Period:
        """The calendar month before the run's local date, keyed by its last day."""
        tz = ZoneInfo(team.timezone)
        this_month = _aware(when).astimezone(tz).date().replace(day=1)
        last_day = this_month - timedelta(days=1)
        start = datetime.combine(last_day.replace(day=1), time(0), tzinfo=tz)
        return Period(day=last_day, start=start, end=datetime.combine(this_month, time(0), tzinfo=tz))

    def queries(self, team: Team, period: Period, settings: ComplianceSettings) -> dict[str, Query]:
        first_day = period.start.astimezone(ZoneInfo(team.timezone)).date()
        span = {"team_id": team.id, "start": utc_naive(period.start), "end": utc_naive(period.end)}
        return {
            "transactions": Query(TRANSACTIONS_SQL, span),
            "unpaid_invoices": Query(
                UNPAID_SQL, {"team_id": team.id, "last_day": period.day, "end": utc_naive(period.end)}
            ),
            "unmatched": Query(
                UNMATCHED_SQL, {"team_id": team.id, "first_day": first_day, "last_day": period.day}
            ),
        }

    # ---------------------------------------------------------- at run time (compliance_report_run.py)

    def plan(
        self, snapshot: TeamSnapshot, settings: ComplianceSettings, mode: Literal["loop", "structured"]
    ) -> KindPlan:
        from agentjobs.jobs.kinds import compliance_report_run

        return compliance_report_run.plan(snapshot, settings, mode)

    def heading(self, snapshot: TeamSnapshot, title: str) -> str:
        from agentjobs.jobs.kinds import compliance_report_run

        return compliance_report_run.heading(snapshot, title)

    def expected(
        self, snapshot: TeamSnapshot, settings: ComplianceSettings, heading: str, narrative: list[str]
    ) -> str:
        from agentjobs.jobs.kinds import compliance_report_run

        return compliance_report_run.expected(snapshot, settings, heading, narrative)

    def render(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: ComplianceSettings, title: str
    ) -> Rendered:
        from agentjobs.jobs.kinds import compliance_report_run

        return compliance_report_run.render(snapshot, answer, settings, title)

    def check(
        self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: ComplianceSettings
    ) -> None:
        from agentjobs.jobs.kinds import compliance_report_run

        compliance_report_run.check(snapshot, markdown, result, settings)

    def preview(self, markdown: str) -> str:
        from agentjobs.jobs.kinds import compliance_report_run

        return compliance_report_run.preview(markdown)

    # ------------------------------------------------------------------ the PDF

    def document_name(self, snapshot: TeamSnapshot) -> str:
        """The PDF's file name: the team and the month, e.g. compliance-report-team-berlin-2026-10.pdf."""
        return f"compliance-report-{snapshot.team.id}-{snapshot.period.key[:7]}.pdf"

    def document(self, snapshot: TeamSnapshot, markdown: str, settings: ComplianceSettings) -> bytes:
        """The PDF of the validated report.md: the same text, the same bytes on every render."""
        from agentjobs.jobs.report_pdf import render_pdf

        return render_pdf(markdown, created=snapshot.period.end)


KIND = ComplianceReport()

# Names of the run-time half that callers import from here: they load it then.
__getattr__ = forwarded(
    __name__,
    "agentjobs.jobs.kinds.compliance_report_run",
    frozenset({"CategoryTotal", "Figures", "SUMMARY_HEADING", "allowed", "figures", "sentences"}),
)


__all__ = ["ARTIFACT_FILE", "INPUTS", "KIND", "ComplianceReport", "ComplianceSettings"]

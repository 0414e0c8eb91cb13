"""The `invoice_reconciliation` kind: each team's incoming payments allocated to the open invoices
they pay, with reconciliation's rules and review band (the receipts' sibling, on the user's own
tables only: the sample database has no payments, so a spec maps both inputs and `allocations`).

Once a local day per team (at `local_hour`), for the payments received in the last
`lookback_days` that are unallocated and not judged yet (agentjobs' ledger, record type
'payment'): code finds each payment's candidate invoices (payment_rules: the currency, an amount
of at most what is still due, a date from the issue day to 60 days after the due day (no limit
for an invoice without a due date: it is never late), a payer name like the customer's or a
reference naming the number; top 5), the model picks one per
payment with a confidence, and code decides again, never from the model alone:
- linked: the rules hold, the confidence is above 0.8, the payment is the invoice's rest to the
  cent and no rival invoice of that amount stands unless the reference names this one;
- review: the rules hold but the confidence is in [review.min_confidence, 0.8], or a blocker
  stands; a part payment or an instalment is always a person's decision (the review step);
- no match: anything else, with the rule or the reason.
One payment pays one invoice (a payment split over two invoices is left to a person); an invoice
may take several payments over the days, each allocated once (`allocations` holds a payment
once), since what it still owes is read again each day.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.base import CheckFailed, Query, Team, TeamSnapshot, utc_naive
from agentjobs.jobs.kinds.payment_rules import (
    LATE_DAYS,
    InvoiceCandidate,
    candidate,
    due_day,
    find_candidates,
    link_blocker,
    rule_failures,
)
from agentjobs.jobs.kinds.reconcile_core import (
    LINK_ABOVE,
    MatchKind,
    MatchSettings,
    MatchWork,
    Rules,
    Wording,
    code,
)
from agentjobs.jobs.kinds.reconcile_links import AUTO
from agentjobs.jobs.kinds.reconcile_rules import local_day
from agentjobs.jobs.markdown_text import as_text
from agentjobs.jobs.numbers import format_amount
from agentjobs.jobs.period import Period
from agentjobs.jobs.prompt_data import as_data
from agentjobs.jobs.writes import WriteColumn, WriteTarget

if TYPE_CHECKING:  # annotations only: the write's module loads when a task runs
    from agentjobs.jobs.kinds.reconcile_write import Decision

ARTIFACT_FILE = "invoice-reconciliation.md"
RECORD_TYPE = "payment"  # agentjobs' ledger's record type (receipts are 'receipt')
PICK = "invoice"  # the key of the chosen candidate in the RESULT's links and review
_EXAMPLE = '{"matches": {"<payment id>": {"invoice": "<one of its candidate ids>", "confidence": 0.9}}}'

ALLOCATIONS = WriteTarget(
    "allocations",
    "one row per payment allocated to the invoice it pays (a payment once; an invoice may take several)",
    (
        WriteColumn("payment_id", "text", "the payment's id, as the payments input reads it", required=True),
        WriteColumn("invoice_id", "text", "the id of the invoice it pays", required=True),
        WriteColumn("amount_cents", "integer", "what it allocates: the payment's amount, minor units"),
        WriteColumn("confidence", "decimal", "the model's confidence, 0 to 1"),
        WriteColumn("linked_at", "timestamp", "when the allocation was written (UTC)"),
        WriteColumn("linked_by", "text", f"who allocated it: {AUTO!r} (the run) or the reviewer's name"),
    ),
    unique=("payment_id",),
    ledger=True,
)

INPUTS = (
    Input(
        "payments",
        "the team's incoming payments of the lookback not allocated and not yet judged",
        (
            Column("id", "text"),
            Column("received_at", "timestamp", meaning="when it came in (UTC)"),
            Column("amount_cents", "integer", meaning="the amount in minor units, positive"),
            Column("currency", "text", meaning="ISO 4217 code", check="currency"),
            Column("payer_name", "text", nullable=True, meaning="the name the bank gives for the payer"),
            Column("reference", "text", nullable=True, meaning="the payer's own text: a number, or not"),
        ),
        ("team_id", "start", "end"),
        "",  # no sample default: the spec maps it (check_spec)
        "src.team_id = :team_id AND src.received_at >= :start AND src.received_at < :end",
        "src.received_at, src.id",
        ("team_id",),
    ),
    Input(
        "open_invoices",
        "the team's issued invoices with something still due",
        (
            Column("id", "text"),
            Column("number", "text"),
            Column("customer_name", "text", nullable=True),
            Column("issued_on", "date"),
            Column(
                "due_on",
                "date",
                nullable=True,
                meaning="NULL: no due date; a payment from the issue day on may pay it",
            ),
            Column("amount_due_cents", "integer", meaning="what is still owed, minor units"),
            Column("currency", "text", meaning="ISO 4217 code", check="currency"),
        ),
        ("team_id",),
        "",
        "src.team_id = :team_id",
        "src.due_on, src.id",
        ("team_id",),
    ),
)


class InvoiceReconciliationSettings(MatchSettings):
    pass


RULES = Rules(find_candidates, candidate, rule_failures, link_blocker, lambda c: c.invoice_id)
WORDING = Wording(
    noun="payment",
    pick=PICK,
    unknown="no open invoice of the team",
    unmatched="no open invoice of the team",
    taken="is paid by",
    linked="Allocated",
    link="allocate",
)


class Work(MatchWork):
    """One team's snapshot, indexed: the payments, their candidate invoices, and this run's batch."""

    def __init__(self, snapshot: TeamSnapshot, settings: InvoiceReconciliationSettings) -> None:
        super().__init__(
            snapshot, settings, records="payments", targets="open_invoices", rules=RULES, wording=WORDING
        )
        self.payments, self.invoices = self.records, self.targets

    def amount(self, pid: str) -> int:
        return int(self.payments[pid]["amount_cents"])

    def extra(self, rid: str) -> dict[str, Any]:
        """A payment allocates its whole amount: the write and the review read it from here."""
        return {"amount_cents": self.amount(rid)}


class InvoiceReconciliationKind(MatchKind):
    """Hourly in UTC; each team once a day at its own `local_hour`."""

    name: ClassVar[str] = "invoice_reconciliation"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS
    writes: ClassVar[tuple[WriteTarget, ...]] = (ALLOCATIONS,)
    settings_model: ClassVar[type[BaseModel]] = InvoiceReconciliationSettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "0 * * * *"
    review_pick: ClassVar[str] = PICK  # the review task's options name the proposed invoice
    review_noun: ClassVar[str] = "payment"

    wording = WORDING
    artifact = ARTIFACT_FILE
    example = _EXAMPLE
    find_doc = "The payment's candidate invoices (top 5, best first), found by the rules in code."
    match_doc = """Propose that the payment pays the candidate invoice, with your confidence (0..1). Code
        checks the rules again and answers whether it will be allocated, sent to review or refused
        (naming the rule); your last proposal per payment counts."""

    def check_spec(self, spec: Any) -> None:
        """The sample database has no payments: both inputs and `allocations` must be mapped."""
        from agentjobs.jobs.spec import KindMismatch

        sql = spec.sources.sql
        for input_ in INPUTS:
            if sql is None or input_.name not in sql.inputs:
                raise KindMismatch(
                    f"sources.sql.inputs.{input_.name}",
                    f"kind {self.name!r} reads {input_.name!r} from your own tables (the sample database "
                    f"has none): map it with `sql:` or `table:`",
                )
        if sql is None or ALLOCATIONS.name not in sql.writes:
            raise KindMismatch(
                "sources.sql.writes.allocations",
                f"kind {self.name!r} writes its allocations to your own table: map `allocations`",
            )

    def queries(
        self, team: Team, period: Period, settings: InvoiceReconciliationSettings
    ) -> dict[str, Query]:
        window = {"start": utc_naive(period.start), "end": utc_naive(period.end)}
        return {
            "payments": Query(INPUTS[0].default_sql, {"team_id": team.id, **window}),
            "open_invoices": Query(INPUTS[1].default_sql, {"team_id": team.id}),
        }

    # ------------------------------------------------------------------ the model

    def work(self, snapshot: TeamSnapshot, settings: InvoiceReconciliationSettings) -> Work:
        return Work(snapshot, settings)

    def intro(self, snapshot: TeamSnapshot) -> str:
        return (
            f"Match each incoming payment of team {as_data(snapshot.team.name)} to the open invoice it "
            "pays. Its candidates were found by code (same currency, at most what is still due, received "
            f"from the issue day to {LATE_DAYS} days after the due day (any day after it for an invoice "
            "without a due date), a payer like the customer or a "
            "reference naming the number), best first; choose the one it pays, with a confidence from "
            f"0 to 1: above {LINK_ABOVE} only when you are sure, 0 when none of them is the payment's."
        )

    def record_line(self, work: MatchWork, rid: str, currency: str) -> str:
        payment = work.records[rid]
        amount = format_amount(int(payment["amount_cents"]), str(payment.get("currency") or currency))
        day = local_day(payment["received_at"], work.tz)
        return (
            f"{amount} from {as_data(str(payment.get('payer_name') or '?'))}, reference "
            f"{as_data(str(payment.get('reference') or '-'))}, received {day}"
        )

    def candidate_line(self, found: InvoiceCandidate, currency: str) -> str:
        return (
            f"{found.invoice_id}: {as_data(found.number)} to {as_data(found.customer_name)}, "
            f"{format_amount(found.amount_due_cents, currency)} {_due(found.due_on)}"
            f"{', reference names it' if found.named else ''} (score {found.score:.2f})"
        )

    # ------------------------------------------------------------------ the artifact

    def expected(
        self,
        snapshot: TeamSnapshot,
        work: Work,
        result: dict[str, Any],
        settings: InvoiceReconciliationSettings,
        title_line: str,
    ) -> str:
        currency = snapshot.team.currency
        counts = [len(result.get(k) or {}) for k in ("links", "review", "no_match")]
        summary = (
            f"{counts[0]} payment{'s' if counts[0] != 1 else ''} allocated, {counts[1]} for review, "
            f"{counts[2]} without a match of {len(work.batch)} judged; {work.without} without a "
            "candidate invoice"
        ) + (f", {work.waiting} left for the next run." if work.waiting else ".")

        def payment(pid: str) -> str:
            row = work.payments[pid]
            amount = format_amount(int(row["amount_cents"]), str(row.get("currency") or currency))
            day = local_day(row["received_at"], work.tz)
            return (
                f"`{code(pid)}` {amount} from {as_text(str(row.get('payer_name') or '?'))}, reference "
                f"{as_text(str(row.get('reference') or '-'))} (received {day})"
            )

        def invoice(iid: str) -> str:
            row = work.invoices[iid]
            amount = format_amount(int(row["amount_due_cents"]), str(row.get("currency") or currency))
            return (
                f"`{code(iid)}` {as_text(str(row.get('number') or '?'))} to "
                f"{as_text(str(row.get('customer_name') or '?'))}, {amount} {_due(due_day(row))}"
            )

        lines = [title_line, "", summary, ""]
        return "\n".join(lines + self.sections(result, settings, payment, invoice))

    def check_item(self, work: Work, rid: str, item: dict[str, Any]) -> None:
        """A link or review allocates the payment's own amount."""
        if item.get("amount_cents") != work.amount(rid):
            raise CheckFailed(f"payment {rid!r} allocates {item.get('amount_cents')!r}, not its amount")

    # ------------------------------------------------------------------ the writes

    def apply(
        self,
        snapshot: TeamSnapshot,
        result: dict[str, Any],
        settings: InvoiceReconciliationSettings,
        engine: Any,
        writes: Any = None,
    ) -> dict[str, list[str]]:
        """The validated decisions with their ledger rows, in one transaction (reconcile_write)."""
        from agentjobs.jobs.kinds.reconcile_core import written_of

        return written_of(
            engine, snapshot, decisions_of(result), writes, record_type=RECORD_TYPE, write_target=ALLOCATIONS
        )

    def resolve_review(
        self,
        engine: Any,
        *,
        reviewer: str,
        team_id: str,
        approved: dict[str, str],
        rejected: list[str],
        writes: Any,
        proposals: dict[str, dict[str, Any]],
    ) -> Any:
        """A person's answer (the review task): approved payments allocated with their amounts."""
        from agentjobs.jobs.kinds.reconcile_write import resolve_review

        return resolve_review(
            engine,
            reviewer=reviewer,
            team_id=team_id,
            approved=approved,
            rejected=rejected,
            writes=writes,
            record_type=RECORD_TYPE,
            write_target=ALLOCATIONS,
            amounts={pid: int(proposals[pid]["amount_cents"]) for pid in approved},
        )


def _due(day: date | None) -> str:
    return "without a due date" if day is None else f"due {day.isoformat()}"


def decisions_of(result: dict[str, Any]) -> list[Decision]:
    """The decisions of a validated RESULT, in payment id order; the ledger's `transaction_id`
    holds the invoice."""
    from agentjobs.jobs.kinds.reconcile_write import Decision  # run time: the write's module

    found = [
        Decision(pid, "linked", str(v[PICK]), float(v["confidence"]), "", int(v["amount_cents"]))
        for pid, v in (result.get("links") or {}).items()
    ]
    found += [
        Decision(
            pid, "review", str(v[PICK]), float(v["confidence"]), str(v.get("why", "")), int(v["amount_cents"])
        )
        for pid, v in (result.get("review") or {}).items()
    ]
    found += [Decision(pid, "no_match", note=str(why)) for pid, why in (result.get("no_match") or {}).items()]
    return sorted(found, key=lambda d: d.record_id)


KIND = InvoiceReconciliationKind()

__all__ = ["ALLOCATIONS", "ARTIFACT_FILE", "KIND", "InvoiceReconciliationKind", "Work"]

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
This module is what a DAG parse and the fetch need: the spec section, the inputs, the write
target, who is due (reconcile_face.py). The rules, prompts, summary and check
(invoice_reconciliation_run.py, on reconcile_core.py) load when a task first asks for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.base import Query, Team, TeamSnapshot, utc_naive
from agentjobs.jobs.kinds.reconcile_face import MatchFace, MatchSettings
from agentjobs.jobs.kinds.reconcile_links import AUTO
from agentjobs.jobs.period import Period
from agentjobs.jobs.writes import WriteColumn, WriteTarget
from agentjobs.lazy_names import forwarded

if TYPE_CHECKING:  # annotations only: the write's module loads when a task runs
    from agentjobs.jobs.kinds.reconcile_write import Decision

ARTIFACT_FILE = "invoice-reconciliation.md"
RECORD_TYPE = "payment"  # agentjobs' ledger's record type (receipts are 'receipt')
PICK = "invoice"  # the key of the chosen candidate in the RESULT's links and review

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


class InvoiceReconciliationKind(MatchFace):
    """Hourly in UTC; each team once a day at its own `local_hour`."""

    name: ClassVar[str] = "invoice_reconciliation"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS
    writes: ClassVar[tuple[WriteTarget, ...]] = (ALLOCATIONS,)
    settings_model: ClassVar[type[BaseModel]] = InvoiceReconciliationSettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "0 * * * *"
    run_module: ClassVar[str] = "agentjobs.jobs.kinds.invoice_reconciliation_run"  # the model's side
    review_pick: ClassVar[str] = PICK  # the review task's options name the proposed invoice
    review_noun: ClassVar[str] = "payment"

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

# Names of the run-time half that callers import from here: they load it then.
__getattr__ = forwarded(
    __name__, "agentjobs.jobs.kinds.invoice_reconciliation_run", frozenset({"RULES", "WORDING", "Work"})
)

__all__ = ["ALLOCATIONS", "ARTIFACT_FILE", "KIND", "InvoiceReconciliationKind"]

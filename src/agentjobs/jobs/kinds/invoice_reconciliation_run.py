"""invoice_reconciliation at run time: payments matched to open invoices by payment_rules, the
prompt's lines, the summary written from code's decisions and the check that a payment allocates
its own amount (the kind's face, invoice_reconciliation.py, hands plan, render and check here; a
DAG parse never loads this module)."""

from __future__ import annotations

from datetime import date
from typing import Any

from agentjobs.jobs.kinds.base import CheckFailed, TeamSnapshot
from agentjobs.jobs.kinds.invoice_reconciliation import ARTIFACT_FILE, PICK, InvoiceReconciliationSettings
from agentjobs.jobs.kinds.payment_rules import (
    LATE_DAYS,
    InvoiceCandidate,
    candidate,
    due_day,
    find_candidates,
    link_blocker,
    rule_failures,
)
from agentjobs.jobs.kinds.reconcile_core import LINK_ABOVE, MatchKind, MatchWork, Rules, Wording, code
from agentjobs.jobs.kinds.reconcile_rules import local_day
from agentjobs.jobs.markdown_text import as_text
from agentjobs.jobs.numbers import format_amount
from agentjobs.jobs.prompt_data import as_data

_EXAMPLE = '{"matches": {"<payment id>": {"invoice": "<one of its candidate ids>", "confidence": 0.9}}}'

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


class PaymentsMatch(MatchKind):
    """The model's side of invoice_reconciliation: its prompt, tools, summary and check."""

    wording = WORDING
    artifact = ARTIFACT_FILE
    example = _EXAMPLE
    find_doc = "The payment's candidate invoices (top 5, best first), found by the rules in code."
    match_doc = """Propose that the payment pays the candidate invoice, with your confidence (0..1). Code
        checks the rules again and answers whether it will be allocated, sent to review or refused
        (naming the rule); your last proposal per payment counts."""

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


MATCH = PaymentsMatch()


def _due(day: date | None) -> str:
    return "without a due date" if day is None else f"due {day.isoformat()}"

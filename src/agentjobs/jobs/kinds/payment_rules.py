"""The matching rules of `invoice_reconciliation`, in code: which open invoices an incoming payment
may pay, and in which order they are offered. The receipts' rules (reconcile_rules) read for
money coming in:

- currency: the invoice's;
- amount: at most what the invoice still owes, within 0.5 % above it (an exact payment of the
  rest), or any part of it (an instalment, a part payment);
- date: the payment's local day (the team's time zone) from the invoice's issue day up to
  `LATE_DAYS` after its due day; an invoice without a due day (`due_on` NULL) has no late
  limit and is never late (a company's own table may hold some, and they still get paid);
- name: the payer's name similar to the customer's (legal forms, case and punctuation set
  aside, as for vendors), or the payment's reference text naming the invoice's number.

Code links on its own only a payment of the rest to the cent, with no rival of that amount
unless the reference names the chosen invoice (`link_blocker`): a part payment, an amount
off by a little, or two invoices of one customer with the same amount (a monthly retainer)
go to a person. The model only picks among candidates, and every pick is checked again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from agentjobs.jobs.kinds.reconcile_rules import (
    AMOUNT_TOLERANCE_PERMILLE,
    NAME_MIN_SIMILARITY,
    TOP_CANDIDATES,
    amount_score,
    local_day,
    name_similarity,
)

LATE_DAYS = 60  # a payment this many days after the due day still matches (reminders work slowly)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    return _NOT_ALNUM.sub("", folded)


def names_number(reference: str | None, number: str | None) -> bool:
    """Whether the reference text names the invoice number, however the payer spelled it
    ("INV-2026-0012", "inv20260012", "Payment for invoice INV-2026-0012, thanks"), and not as the
    start of a longer one ("INV-2026-00123" does not name "INV-2026-0012")."""
    ref, num = _key(reference or ""), _key(number or "")
    if not ref or not num:
        return False
    start = ref.find(num)
    while start >= 0:
        before = ref[start - 1] if start else ""
        after = ref[start + len(num) : start + len(num) + 1]
        if not (before.isdigit() and num[0].isdigit()) and not (after.isdigit() and num[-1].isdigit()):
            return True
        start = ref.find(num, start + 1)
    return False


@dataclass(frozen=True)
class InvoiceCandidate:
    """An open invoice that passes every rule for one payment, with what ranks it."""

    invoice_id: str
    number: str
    amount_due_cents: int
    customer_name: str
    due_on: date | None  # None: the invoice has no due day
    part: bool  # the payment is below what the invoice owes, beyond the tolerance
    amount_off_permille: float  # |payment - due| / due, in 1/1000
    days_late: int  # after the due day (0: on time)
    named: bool  # the reference names the invoice's number
    similarity: float  # payer name vs customer name
    score: float  # 0..1

    def as_tool_row(self) -> dict[str, Any]:
        return {
            "id": self.invoice_id,
            "number": self.number,
            "amount_due_cents": self.amount_due_cents,
            "customer": self.customer_name,
            "due_on": None if self.due_on is None else self.due_on.isoformat(),
            "part_payment": self.part,
            "days_late": self.days_late,
            "reference_names_it": self.named,
            "name_similarity": self.similarity,
            "score": self.score,
        }


def _day(value: Any) -> date:
    return date.fromisoformat(str(value)[:10])


def due_day(invoice: dict[str, Any]) -> date | None:
    """The invoice's due day, or None when it has none (`due_on` NULL)."""
    value = invoice.get("due_on")
    return None if value is None else _day(value)


def _amounts(payment: dict[str, Any], invoice: dict[str, Any]) -> tuple[int, int] | None:
    if payment.get("amount_cents") is None or invoice.get("amount_due_cents") is None:
        return None
    return int(payment["amount_cents"]), int(invoice["amount_due_cents"])


def rule_failures(
    payment: dict[str, Any], invoice: dict[str, Any], timezone: str, *, all_rules: bool = True
) -> list[str]:
    """The rules `invoice` breaks as what `payment` pays (empty: it may be linked), each naming its
    limit; with `all_rules` False only the first (the amount first: it rules out the most)."""
    failed: list[str] = []
    amounts = _amounts(payment, invoice)
    if amounts is None:
        which = "payment's" if payment.get("amount_cents") is None else "invoice's"
        failed.append(f"amount: the {which} amount is unknown")
    elif payment.get("currency") != invoice.get("currency"):
        failed.append(f"currency: {invoice.get('currency')} is not the payment's {payment.get('currency')}")
    else:
        paid, due = amounts
        if paid <= 0 or due <= 0:
            failed.append(f"amount: {paid} paid against {due} due is no payment of it")
        elif 1000 * (paid - due) > AMOUNT_TOLERANCE_PERMILLE * due:
            failed.append(f"amount: {paid} is more than the {due} the invoice still owes (0.5 % allowed)")
    if failed and not all_rules:
        return failed
    day = local_day(payment["received_at"], timezone)
    issued, due_on = _day(invoice["issued_on"]), due_day(invoice)
    if day < issued:
        failed.append(f"date: received {day}, before the invoice was issued on {issued}")
    elif due_on is not None and (day - due_on).days > LATE_DAYS:
        failed.append(f"date: received {day}, more than {LATE_DAYS} days after the due day {due_on}")
    if failed and not all_rules:
        return failed
    if not names_number(payment.get("reference"), invoice.get("number")):
        similarity = name_similarity(
            str(payment.get("payer_name") or ""), str(invoice.get("customer_name") or "")
        )
        if similarity < NAME_MIN_SIMILARITY:
            failed.append(
                f"name: payer {payment.get('payer_name')!r} is {similarity:.2f} similar to the customer "
                f"{invoice.get('customer_name')!r}, under {NAME_MIN_SIMILARITY}, and the reference does "
                f"not name {invoice.get('number')!r}"
            )
    return failed


def candidate(payment: dict[str, Any], invoice: dict[str, Any], timezone: str) -> InvoiceCandidate | None:
    """`invoice` as a ranked candidate of `payment`, or None when a rule fails."""
    if rule_failures(payment, invoice, timezone, all_rules=False):
        return None
    paid, due = _amounts(payment, invoice) or (0, 0)
    off = 1000 * abs(paid - due) / due
    part = 1000 * (due - paid) > AMOUNT_TOLERANCE_PERMILLE * due
    due_on = due_day(invoice)
    day = local_day(payment["received_at"], timezone)
    days_late = 0 if due_on is None else max(0, (day - due_on).days)
    named = names_number(payment.get("reference"), invoice.get("number"))
    similarity = name_similarity(
        str(payment.get("payer_name") or ""), str(invoice.get("customer_name") or "")
    )
    name = 1.0 if named else max(0.0, (similarity - NAME_MIN_SIMILARITY) / (1 - NAME_MIN_SIMILARITY)) * 0.6
    # A part payment ranks below any payment of the whole rest: 0.2 at most, by its share.
    amount = 0.2 * paid / due if part else amount_score(off)
    score = 0.5 * amount + 0.15 * (1 - days_late / LATE_DAYS) + 0.35 * name
    return InvoiceCandidate(
        invoice_id=str(invoice["id"]),
        number=str(invoice.get("number") or ""),
        amount_due_cents=due,
        customer_name=str(invoice.get("customer_name") or ""),
        due_on=due_on,
        part=part,
        amount_off_permille=off,
        days_late=days_late,
        named=named,
        similarity=similarity,
        score=round(score, 4),
    )


def find_candidates(
    payment: dict[str, Any], invoices: list[dict[str, Any]], timezone: str, top: int = TOP_CANDIDATES
) -> list[InvoiceCandidate]:
    """The `top` open invoices passing every rule, best score first; on a tie the one due first
    (a customer paying one of two equal invoices pays the older)."""
    found = [c for i in invoices if (c := candidate(payment, i, timezone)) is not None]
    # An invoice without a due day sorts after the dated ones of its score.
    found.sort(key=lambda c: (-c.score, c.due_on or date.max, c.invoice_id))
    return found[:top]


def link_blocker(chosen: InvoiceCandidate, rivals: list[InvoiceCandidate]) -> str | None:
    """Why code will not link `chosen` on its own, however sure the model is (None: it may)."""
    if chosen.part:
        return f"a part payment: the invoice still owes {chosen.amount_due_cents}"
    if chosen.amount_off_permille:
        return f"the amount is {chosen.amount_off_permille / 10:.2f} % off what is due, not exact"
    named = [c.number for c in rivals if c.named and c.invoice_id != chosen.invoice_id]
    if named and not chosen.named:
        return f"the reference names {', '.join(named)}"
    if chosen.named:
        return None  # the payer named this invoice: an equal amount elsewhere is no doubt
    same = [
        c.invoice_id
        for c in rivals
        if c.invoice_id != chosen.invoice_id and not c.part and not c.amount_off_permille
    ]
    if same:
        return f"{', '.join(same)} has the same amount due"
    return None

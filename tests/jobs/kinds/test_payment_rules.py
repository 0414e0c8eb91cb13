"""The rules of invoice reconciliation (jobs/kinds/payment_rules.py): a payment's reference names an
invoice number however it is spelled, each rule refuses a candidate by name, and a reference naming
another candidate blocks the link."""

from __future__ import annotations

from agentjobs.jobs.kinds.payment_rules import find_candidates, link_blocker, names_number, rule_failures
from tests.jobs.kinds.test_invoice_reconciliation import TZ, invoice, payment


def test_a_reference_names_a_number_however_it_is_spelled_but_not_a_longer_one():
    assert names_number("GLX-2026-0012", "GLX-2026-0012")
    assert names_number("glx20260012", "GLX-2026-0012")
    assert names_number("Payment for invoice GLX-2026-0012, thanks", "GLX-2026-0012")
    assert not names_number("GLX-2026-00123", "GLX-2026-0012")
    assert not names_number("GLX-2026-0013", "GLX-2026-0012")
    assert not names_number(None, "GLX-2026-0012")


def test_each_rule_refuses_by_name():
    base = invoice("inv-1")
    assert rule_failures(payment(), base, TZ) == []
    assert rule_failures(payment(amount=50_300), base, TZ)[0].startswith("amount: 50300 is more than")
    assert rule_failures(payment(), {**base, "currency": "USD"}, TZ)[0].startswith("currency:")
    assert rule_failures(payment(), {**base, "issued_on": "2026-11-21"}, TZ)[0].startswith("date:")
    assert rule_failures(payment(), {**base, "due_on": "2026-09-01"}, TZ)[0].startswith("date:")
    assert rule_failures(payment(payer="Initech"), base, TZ)[0].startswith("name:")
    # Another payer's name, but the reference names the invoice: it may be this one's.
    assert rule_failures(payment(payer="Maria Garcia", ref="GLX-2026-0001"), base, TZ) == []


def test_a_reference_naming_another_candidate_blocks_the_link():
    found = find_candidates(
        payment(ref="GLX-2026-0002"), [invoice("inv-1"), invoice("inv-2", number="GLX-2026-0002")], TZ
    )
    chosen = next(c for c in found if c.invoice_id == "inv-1")
    assert link_blocker(chosen, found) == "the reference names GLX-2026-0002"

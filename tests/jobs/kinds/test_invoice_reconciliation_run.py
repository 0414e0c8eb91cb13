"""invoice_reconciliation at run time: a link or review item must allocate the payment's own
amount (the kind's rules, summary and check are tested through the kind in
test_invoice_reconciliation.py)."""

from __future__ import annotations

import pytest

from agentjobs.jobs.kinds.base import CheckFailed
from agentjobs.jobs.kinds.invoice_reconciliation import InvoiceReconciliationSettings
from agentjobs.jobs.kinds.invoice_reconciliation_run import MATCH, Work
from tests.jobs.kinds.test_invoice_reconciliation import invoice, payment, snapshot


def test_an_item_allocating_another_amount_than_the_payments_is_refused():
    work = Work(snapshot([payment("p1", amount=50_000)], [invoice("i1")]), InvoiceReconciliationSettings())
    MATCH.check_item(work, "p1", {"invoice": "i1", "amount_cents": 50_000})
    with pytest.raises(CheckFailed, match="payment 'p1' allocates 49999, not its amount"):
        MATCH.check_item(work, "p1", {"invoice": "i1", "amount_cents": 49_999})

"""compliance_report at run time: the month's figures from rows that failed imports left behind
(NULL amounts, a NULL category, no due date), and a currency ISO 4217 does not list."""

from __future__ import annotations

import pytest

from agentjobs.jobs.kinds.base import Team, TeamSnapshot
from tests.jobs.kinds.test_compliance_report import KIND, SETTINGS, month, rendered, snapshot


def failed_imports() -> TeamSnapshot:
    """The month of `month()` with what failed imports and OCR leave: NULL amounts, a NULL category,
    an invoice without a due date."""
    base = month()
    tables = {name: [dict(r) for r in rows] for name, rows in base.tables.items()}
    tables["transactions"] += [
        {
            "id": "t5",
            "occurred_at": "2026-10-06T17:00:00",
            "kind": "expense",
            "category": "travel",
            "amount_cents": None,
            "currency": "USD",
        },
        {
            "id": "t6",
            "occurred_at": "2026-10-07T17:00:00",
            "kind": "expense",
            "category": None,
            "amount_cents": 4_000,
            "currency": "USD",
        },
    ]
    tables["unpaid_invoices"] += [
        {
            "id": "inv-3",
            "number": "LA-3",
            "due_on": "2026-10-10",
            "amount_cents": None,
            "currency": "USD",
            "customer_name": "Acme",
        },
        {
            "id": "inv-4",
            "number": "LA-4",
            "due_on": None,
            "amount_cents": 7_000,
            "currency": "USD",
            "customer_name": "Acme",
        },
    ]
    tables["unmatched"] += [
        {
            "id": "rcp-x",
            "received_on": "2026-10-20",
            "amount_cents": None,
            "currency": None,
            "vendor_name": None,
        },
    ]
    return snapshot(**tables)


def test_null_amounts_are_listed_as_unknown_and_left_out_of_every_sum_never_a_crash() -> None:
    snap = failed_imports()
    picked = ["unpaid_invoices", "overdue_invoices", "unmatched_receipts", "net_result"]
    out = rendered(snap, {"summary": picked})
    KIND.check(snap, out.markdown, out.result, SETTINGS)
    text = out.markdown
    # The known amounts add up as before; the unknown ones are named, not counted as zero.
    assert "- Expenses, travel: $999.50 (1 transaction)" in text
    assert "- Expenses, uncategorized: $40.00 (1 transaction)" in text
    assert "- Not totalled: 1 transaction with amount unknown" in text
    assert (
        "Unpaid: 4 invoices, $6,270.00 in all (1 with amount unknown, not in the sum); "
        "overdue: 2 invoices, $5,000.00 (1 with amount unknown, not in the sum)."
    ) in text
    assert "- `inv-3` LA-3 — Acme: amount unknown, due 2026-10-10 (overdue)" in text
    assert "- `inv-4` LA-4 — Acme: $70.00, no due date" in text
    assert "- `rcp-x` unknown vendor: amount unknown, received 2026-10-20" in text
    assert out.result["narrative"][0] == (
        "4 invoices totalling $6,270.00 (1 with amount unknown, not in the sum) were unpaid at month end."
    )
    assert b"%PDF" in KIND.document(snap, out.markdown, SETTINGS)[:8]


def test_a_currency_iso_4217_does_not_list_fails_the_team_before_the_model_naming_the_code() -> None:
    tables = {name: [dict(r) for r in rows] for name, rows in month().tables.items()}
    tables["unmatched"][0]["currency"] = "USDT"
    with pytest.raises(ValueError, match="currency 'USDT' is not an ISO 4217 code"):
        KIND.plan(snapshot(**tables), SETTINGS, "structured")
    kuwait = Team(id="team-kw", name="Kuwait", timezone="Asia/Kuwait", currency="KWD")
    rows = [{"id": "t1", "occurred_at": "2026-10-02T09:00:00", "kind": "income", "category": "sales",
             "amount_cents": 1_234_567, "currency": "KWD"}]  # fmt: skip
    out = rendered(snapshot(kuwait, transactions=rows), {"summary": ["net_result", "unpaid_invoices"]})
    assert "- Income, sales: 1,234.567 KWD (1 transaction)" in out.markdown  # fils: three decimals
    KIND.check(snapshot(kuwait, transactions=rows), out.markdown, out.result, SETTINGS)

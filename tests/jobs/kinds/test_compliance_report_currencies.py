"""compliance_report and invoices or receipts in a currency other than the team's: they cannot be
added to the team's sums, so the report lists them apart, with a total per currency, in the
report, the message and the PDF; a month whose only open invoices or receipts are in another
currency does not read "every invoice was paid". The model may state how many there are, never
an amount it converted, and names nothing the rows do not hold."""

from __future__ import annotations

import io
from typing import Any

import pytest

from agentjobs.jobs.kinds.base import CheckFailed, TeamSnapshot
from agentjobs.jobs.kinds.compliance_report import KIND, ComplianceSettings
from agentjobs.operators.team_publish import message
from tests.jobs.kinds.test_compliance_report import SETTINGS, month, snapshot

EUR_INVOICES = [
    {"id": "inv-e1", "number": "EU-1", "due_on": "2026-10-12", "amount_cents": 300_000,
     "currency": "EUR", "customer_name": "Müller GmbH"},
    {"id": "inv-e2", "number": "EU-2", "due_on": "2026-11-30", "amount_cents": 45_050,
     "currency": "EUR", "customer_name": "*Dupont* SA"},
]  # fmt: skip
GBP_INVOICE = {"id": "inv-g1", "number": "UK-1", "due_on": None, "amount_cents": 9_900,
               "currency": "GBP", "customer_name": "Smith Ltd"}  # fmt: skip
EUR_RECEIPTS = [
    {"id": "rcp-e1", "received_on": "2026-10-21", "amount_cents": 12_345, "currency": "EUR",
     "vendor_name": "Bahn AG"},
    {"id": "rcp-e2", "received_on": "2026-10-22", "amount_cents": None, "currency": "EUR",
     "vendor_name": None},
]  # fmt: skip


def with_rows(
    invoices: list[dict[str, Any]], receipts: list[dict[str, Any]], own: bool = True
) -> TeamSnapshot:
    tables = {name: [dict(r) for r in rows] for name, rows in month().tables.items()}
    if not own:  # the month's own-currency invoices and receipts all settled
        tables["unpaid_invoices"], tables["unmatched"] = [], []
    tables["unpaid_invoices"] += [dict(r) for r in invoices]
    tables["unmatched"] += [dict(r) for r in receipts]
    return snapshot(**tables)


def section(markdown: str, heading: str) -> list[str]:
    return markdown.split(f"## {heading}\n\n", 1)[1].split("\n## ", 1)[0].splitlines()


def test_rows_in_other_currencies_are_listed_with_a_total_per_currency_and_added_to_no_sum() -> None:
    snap = with_rows([*EUR_INVOICES, GBP_INVOICE], EUR_RECEIPTS)
    out = KIND.render(
        snap, {"summary": ["other_currencies", "unpaid_invoices"]}, SETTINGS, "Compliance report"
    )
    KIND.check(snap, out.markdown, out.result, SETTINGS)
    unpaid = section(out.markdown, "Unpaid invoices at month end")
    # The team's own sums are as before: nothing in euros or pounds is added to them.
    assert unpaid[0] == "Unpaid: 2 invoices, $6,200.00 in all; overdue: 1 invoice, $5,000.00."
    assert (
        "In other currencies, in no sum above: 3 invoices: 3,450.50 EUR (2 invoices), "
        "99.00 GBP (1 invoice); overdue: 1 invoice."
    ) in unpaid
    assert "- `inv-e1` EU-1 — Müller GmbH: 3,000.00 EUR, due 2026-10-12 (overdue)" in unpaid
    assert "- `inv-e2` EU-2 — \\*Dupont\\* SA: 450.50 EUR, due 2026-11-30" in unpaid  # escaped
    assert "- `inv-g1` UK-1 — Smith Ltd: 99.00 GBP, no due date" in unpaid
    receipts = section(out.markdown, "Unmatched receipts")
    assert receipts[0].startswith("Received in October 2026 with no matching transaction: 3 receipts, $60.00")
    assert (
        "In other currencies, in no sum above: 2 receipts: 123.45 EUR (2 receipts, "
        "1 with amount unknown, not in the sum)."
    ) in receipts
    assert "- `rcp-e2` unknown vendor: amount unknown (EUR), received 2026-10-22" in receipts
    assert out.result["narrative"][0] == (
        "1 transaction, 3 unpaid invoices and 2 unmatched receipts in other currencies are in no total "
        "of this report."
    )
    # The message is the report with the PDF's place; the PDF says the same.
    assert "3,000.00 EUR" in message(out.markdown, "s3://bucket/r.pdf")
    from pypdf import PdfReader

    pdf = KIND.document(snap, out.markdown, SETTINGS)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\n", " ")
    assert "3 invoices: 3,450.50 EUR (2 invoices), 99.00 GBP (1 invoice)" in text


def test_a_month_whose_only_open_items_are_in_other_currencies_does_not_say_all_was_paid() -> None:
    snap = with_rows(EUR_INVOICES, EUR_RECEIPTS, own=False)
    out = KIND.render(
        snap, {"summary": ["unpaid_invoices", "unmatched_receipts"]}, SETTINGS, "Compliance report"
    )
    KIND.check(snap, out.markdown, out.result, SETTINGS)
    assert out.result["narrative"] == [
        "Every invoice in USD issued by month end was paid.",
        "Every receipt of the month in USD is matched to a transaction.",
    ]
    assert section(out.markdown, "Unpaid invoices at month end")[0] == "Unpaid in USD: none."
    assert section(out.markdown, "Unmatched receipts")[0] == "Unmatched in USD: none."
    assert "Every invoice issued by month end was paid." not in out.markdown


def test_the_narrative_may_count_them_but_not_state_a_converted_amount() -> None:
    snap = with_rows(EUR_INVOICES, [])
    fine = {"narrative": ["2 unpaid invoices are in other currencies."], "items": 1}
    out = KIND.render(snap, fine, SETTINGS, "Compliance report")
    KIND.check(snap, out.markdown, out.result, SETTINGS)
    # 3,450.50 EUR is not a sum of the team's money: written as dollars it is refused.
    converted = {"narrative": ["Unpaid invoices came to $9,650.50 with the euro ones."], "items": 1}
    out = KIND.render(snap, converted, SETTINGS, "Compliance report")
    with pytest.raises(CheckFailed, match="no figure of the report supports"):
        KIND.check(snap, out.markdown, out.result, SETTINGS)


def test_top_n_caps_the_rows_listed_in_other_currencies_and_says_how_many_more() -> None:
    snap = with_rows([*EUR_INVOICES, GBP_INVOICE], [])
    text = KIND.render(
        snap, {"summary": ["net_result"]}, ComplianceSettings(top_n=1), "Compliance report"
    ).markdown
    unpaid = section(text, "Unpaid invoices at month end")
    assert "- `inv-e1` EU-1 — Müller GmbH: 3,000.00 EUR, due 2026-10-12 (overdue)" in unpaid
    assert "- and 2 more invoices in other currencies" in unpaid
    assert not any("inv-g1" in line for line in unpaid)

"""compliance_report and the receipts OCR could not read: the `unmatched` input lets a NULL amount
and currency through (the other inputs still refuse a NULL amount), and the report lists such a
receipt first, as "amount unknown", counts it and adds it to no total, even past `top_n`."""

from __future__ import annotations

from typing import Any

import pytest

from agentjobs.jobs.inputs import RowContractError, check_rows
from agentjobs.jobs.kinds.compliance_report import INPUTS, KIND, ComplianceSettings
from tests.jobs.kinds.test_compliance_report import SETTINGS, month, snapshot

# month()'s unmatched receipts: $10.00, $20.00 and $30.00, all in USD, the team's currency.
KNOWN_SUM = "$60.00"


def unread(n: int, **known: Any) -> dict[str, Any]:
    """A receipt whose OCR failed: no amount, no currency, no vendor (some of them read: `known`)."""
    row = {"id": f"ocr-{n}", "received_on": f"2026-10-2{n}", "amount_cents": None, "currency": None}
    return {**row, "vendor_name": None, **known}


def tables_with(*receipts: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    tables = {name: [dict(r) for r in rows] for name, rows in month().tables.items()}
    tables["unmatched"] += list(receipts)
    return tables


def listed(markdown: str) -> list[str]:
    """The lines of the Unmatched receipts section after its summary line."""
    section = markdown.split("## Unmatched receipts\n\n", 1)[1]
    return [line for line in section.splitlines()[2:] if line.startswith("- ")]


def test_an_unread_receipt_passes_the_contract_and_is_listed_counted_and_never_summed() -> None:
    # The amount was read but not the currency: minor units of an unknown currency are no amount.
    half_read = unread(2, amount_cents=9_999, vendor_name="Half Read GmbH")
    tables = tables_with(unread(1), half_read)
    check_rows(INPUTS, tables, "team-la")  # no RowContractError: the report goes on
    snap = snapshot(**tables)
    out = KIND.render(snap, {"summary": ["unmatched_receipts", "net_result"]}, SETTINGS, "Compliance report")
    KIND.check(snap, out.markdown, out.result, SETTINGS)
    text = out.markdown
    assert (
        "Received in October 2026 with no matching transaction: 5 receipts, "
        f"{KNOWN_SUM} in all (2 with amount unknown, not in the sum)."
    ) in text
    assert listed(text)[:2] == [
        "- `ocr-1` unknown vendor: amount unknown, received 2026-10-21",
        "- `ocr-2` Half Read GmbH: amount unknown, received 2026-10-22",
    ]
    assert "$99.99" not in text and "99.99" not in text
    assert out.result["narrative"][0] == (
        f"5 receipts of the month totalling {KNOWN_SUM} (2 with amount unknown, not in the sum) "
        "have no matching transaction."
    )
    assert b"%PDF" in KIND.document(snap, out.markdown, SETTINGS)[:8]


def test_a_null_amount_in_another_input_still_fails_the_team_naming_the_row() -> None:
    tables = tables_with(unread(1))
    tables["transactions"][0]["amount_cents"] = None
    with pytest.raises(RowContractError) as failed:
        check_rows(INPUTS, tables, "team-la")
    message = str(failed.value)
    assert "input 'transactions', row id 't1', column 'amount_cents': NULL" in message
    assert "'unmatched'" not in message  # the unread receipt is not a contract problem


def test_past_top_n_the_unread_receipts_come_first_and_the_rest_says_how_many_are_unknown() -> None:
    snap = snapshot(**tables_with(unread(1), unread(2), unread(3)))
    answer = {"summary": ["unmatched_receipts", "net_result"]}

    two = KIND.render(snap, answer, ComplianceSettings(top_n=2), "Compliance report").markdown
    assert [line.split(" ", 2)[1] for line in listed(two)[:2]] == ["`ocr-1`", "`ocr-2`"]
    assert listed(two)[2] == "- and 4 more receipts (1 with amount unknown, not in the sum)"

    three = KIND.render(snap, answer, ComplianceSettings(top_n=3), "Compliance report").markdown
    assert listed(three)[3] == "- and 3 smaller receipts"  # only known amounts are left out

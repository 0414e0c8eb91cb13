"""compliance_report without Airflow: who is due when (a 1st, 06:00, across the US DST change), what
the check refuses (a number no figure supports, an edited figure, an empty summary), and a PDF
that renders hostile Unicode names from the database, the same bytes every time."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentjobs.jobs.kinds.base import CheckFailed, PeriodRef, Team, TeamSnapshot
from agentjobs.jobs.kinds.compliance_report import KIND, ComplianceSettings
from agentjobs.jobs.period import Period
from tests.delivery.inert import assert_no_bidi_controls

SETTINGS = ComplianceSettings()
LA = Team(id="team-la", name="Los Angeles", timezone="America/Los_Angeles", currency="USD")
# What a vendor or customer may be named in the database: a right-to-left override, a zero-width
# space, an emoji, Cyrillic and CJK, markdown and a mention, and one word longer than a line.
HOSTILE = [
    "\u202eevil\u202c Corp\u200b 🚀",
    "\u0420\u043e\u0433\u0430 \u0438 \u043a\u043e\u043f\u044b\u0442\u0430",  # Cyrillic
    "株式会社テスト",
    "<!channel> **Vandelay** [pay](javascript:alert(1))",
    "X" * 180,
]


def snapshot(team: Team = LA, **tables: list[dict[str, Any]]) -> TeamSnapshot:
    when = datetime(2026, 11, 1, 14, tzinfo=UTC)
    period: Period = KIND.period(team, when, SETTINGS)
    return TeamSnapshot(kind=KIND.name, team=team, period=PeriodRef.of(period), tables=tables)


def month() -> TeamSnapshot:
    return snapshot(
        transactions=[
            {"id": "t1", "occurred_at": "2026-10-02T17:00:00", "kind": "income", "category": "sales",
             "amount_cents": 1_250_000, "currency": "USD"},
            {"id": "t2", "occurred_at": "2026-10-03T17:00:00", "kind": "expense", "category": "software",
             "amount_cents": 250_050, "currency": "USD"},
            {"id": "t3", "occurred_at": "2026-10-04T17:00:00", "kind": "expense", "category": "travel",
             "amount_cents": 99_950, "currency": "USD"},
            {"id": "t4", "occurred_at": "2026-10-05T17:00:00", "kind": "expense", "category": "travel",
             "amount_cents": 10_000, "currency": "EUR"},
        ],
        unpaid_invoices=[
            {"id": "inv-1", "number": "LA-1", "due_on": "2026-10-20", "amount_cents": 500_000,
             "currency": "USD", "customer_name": HOSTILE[0]},
            {"id": "inv-2", "number": "LA-2", "due_on": "2026-11-14", "amount_cents": 120_000,
             "currency": "USD", "customer_name": HOSTILE[1]},
        ],
        unmatched=[
            {"id": f"rcp-{i}", "received_on": "2026-10-1{i}", "amount_cents": 1_000 * (i + 1),
             "currency": "USD", "vendor_name": name}
            for i, name in enumerate(HOSTILE[2:])
        ],
    )  # fmt: skip


def rendered(snap: TeamSnapshot, answer: dict[str, Any]) -> Any:
    return KIND.render(snap, answer, SETTINGS, "Compliance report")


def test_each_team_is_due_once_at_six_on_its_first_across_the_dst_change() -> None:
    # 1 Nov 2026 the US leaves DST at 02:00: 06:00 in Los Angeles is 14:00 UTC that day.
    start = datetime(2026, 10, 30, tzinfo=UTC)
    hours = [start + timedelta(hours=h) for h in range(24 * 5)]
    assert [h for h in hours if KIND.due(LA, h, SETTINGS)] == [datetime(2026, 11, 1, 14, tzinfo=UTC)]
    tokyo = Team(id="team-tokyo", name="Tokyo", timezone="Asia/Tokyo", currency="JPY")
    assert [h for h in hours if KIND.due(tokyo, h, SETTINGS)] == [datetime(2026, 10, 31, 21, tzinfo=UTC)]
    period = KIND.period(LA, datetime(2026, 11, 1, 14, tzinfo=UTC), SETTINGS)
    assert (period.key, period.start.isoformat(), period.end.isoformat()) == (
        "2026-10-31",
        "2026-10-01T00:00:00-07:00",
        "2026-11-01T00:00:00-07:00",
    )


def test_the_figures_and_the_picked_summary_pass_their_check() -> None:
    snap = month()
    out = rendered(snap, {"summary": ["unpaid_invoices", "unpaid_invoices", "no_such_id", "net_result"]})
    KIND.check(snap, out.markdown, out.result, SETTINGS)
    assert out.result["items"] == 2  # the repeat and the unknown id are dropped
    assert out.result["narrative"][0] == "2 invoices totalling $6,200.00 were unpaid at month end."
    text = out.markdown
    assert "- Expenses, travel: $999.50 (1 transaction)" in text
    assert "- Expenses in all: $3,500.00 (2 transactions)" in text
    assert "- Net result: $9,000.00" in text
    assert "- Not totalled: 1 transaction in other currencies" in text
    assert "Unpaid: 2 invoices, $6,200.00 in all; overdue: 1 invoice, $5,000.00." in text
    assert "[pay\\](javascript" in text and "[pay](" not in text  # no live link in the message
    assert_no_bidi_controls(text)


@pytest.mark.parametrize(
    "sentence",
    [
        "Unpaid invoices came to $6,300.00 at month end.",  # no such figure
        "Travel came to $1,099.50 with the euro booking.",  # no adding across currencies
        "Software was 72% of all expenses.",  # 71.4%: a share must be a share the figures give
    ],
)
def test_a_narrative_number_no_figure_supports_fails_the_check(sentence: str) -> None:
    snap = month()
    out = rendered(snap, {"narrative": ["Net result was $9,000.00.", sentence], "items": 2})
    with pytest.raises(CheckFailed, match="no figure of the report supports"):
        KIND.check(snap, out.markdown, out.result, SETTINGS)
    good = rendered(snap, {"narrative": ["Net result was $9,000.00; software was 71.4% of expenses."]})
    KIND.check(snap, good.markdown, {**good.result}, SETTINGS)


@pytest.mark.parametrize(
    ("sentence", "named"),
    [
        ("Globex owes the largest unpaid invoice.", "Globex"),  # a customer of no row
        ("Most software spend went to Cloudnine Inc.", "Cloudnine Inc"),  # a vendor of no row
        ("Vandelay Industries sent no receipt.", "Vandelay Industries"),  # a near miss of a vendor
        ('The "payroll" category was empty.', "payroll"),  # a category of no row
    ],
)
def test_a_narrative_naming_what_the_data_lacks_fails_quoting_the_name(sentence: str, named: str) -> None:
    snap = month()
    out = rendered(snap, {"narrative": ["Net result was $9,000.00.", sentence], "items": 2})
    with pytest.raises(CheckFailed) as failed:
        KIND.check(snap, out.markdown, out.result, SETTINGS)
    assert f"the summary names {named!r}, which is in no row of the snapshot" in str(failed.value)
    good = (
        f"Vandelay sent a receipt, {HOSTILE[1]} owes LA-2; "  # a name in Cyrillic, as the row has it
        "Software and Travel led October's expenses in Los Angeles."
    )
    fine = rendered(snap, {"narrative": ["Net result was $9,000.00.", good], "items": 2})
    KIND.check(snap, fine.markdown, fine.result, SETTINGS)


def test_an_edited_figure_or_an_empty_summary_fails_the_check() -> None:
    snap = month()
    out = rendered(snap, {"summary": ["net_result", "unmatched_receipts"]})
    edited = out.markdown.replace("- Net result: $9,000.00", "- Net result: $9,900.00")
    with pytest.raises(CheckFailed, match="figures are not those of the snapshot"):
        KIND.check(snap, edited, out.result, SETTINGS)
    empty = rendered(snap, {"summary": ["no_such_id"]})
    with pytest.raises(CheckFailed, match="no narrative"):
        KIND.check(snap, empty.markdown, empty.result, SETTINGS)


def test_the_pdf_renders_hostile_names_and_is_the_same_bytes_every_time() -> None:
    from pypdf import PdfReader

    snap = month()
    out = rendered(snap, {"summary": ["unmatched_receipts", "net_result"]})
    pdf = KIND.document(snap, out.markdown, SETTINGS)
    assert pdf == KIND.document(snap, out.markdown, SETTINGS)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "evil Corp ?" in text and "\u202e" not in text  # the override and zero-width space dropped
    assert "<!channel> **Vandelay** [pay](javascript:alert(1))" in text  # shown as text, in a PDF
    assert text.replace("\n", "").count("X" * 180) == 1  # a long word wraps, nothing is lost
    assert "Net result: $9,000.00" in text
    assert "Unpaid: 2 invoices, $6,200.00 in all; overdue: 1 invoice, $5,000.00." in text


def test_an_unpaid_invoice_without_a_due_date_passes_the_contract_and_is_never_overdue() -> None:
    from agentjobs.jobs.inputs import check_rows
    from agentjobs.jobs.kinds.compliance_report import INPUTS

    tables = {name: [dict(r) for r in rows] for name, rows in month().tables.items()}
    tables["unpaid_invoices"][0]["due_on"] = None  # inv-1, $5,000.00: overdue while it had a date
    check_rows(INPUTS, tables, "team-la")  # no RowContractError: the team's report goes on
    snap = snapshot(**tables)
    out = rendered(snap, {"summary": ["unpaid_invoices", "overdue_invoices"]})
    KIND.check(snap, out.markdown, out.result, SETTINGS)
    assert "Unpaid: 2 invoices, $6,200.00 in all; overdue: 0 invoices, $0.00." in out.markdown
    assert ": $5,000.00, no due date" in out.markdown

"""The Ledgerly truth against SQL run on the raw tables in PostgreSQL: every planted number is
what a query of the loaded database computes, in the workspace's local days (the session's time
zone is set far from all of them, so a query that leaned on it would disagree)."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from datetime import timedelta

import sqlalchemy as sa

# Each transaction with its workspace, local day and the workspace's time zone.
LOCAL_TXNS = """
    SELECT t.*, a.workspace_id, (t.booked_at AT TIME ZONE w.timezone)::date AS local_day
    FROM transactions t
    JOIN bank_accounts a ON a.id = t.account_id
    JOIN workspaces w ON w.id = a.workspace_id
"""


def _all(engine: sa.Engine, sql: str, **params: object) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def _spend(engine, workspace_id, currency, category, first, last) -> int:
    sql = f"""SELECT -COALESCE(SUM(amount_minor), 0) FROM ({LOCAL_TXNS}) t
        WHERE workspace_id = :w AND currency = :c AND category = :cat AND local_day BETWEEN :f AND :l"""
    return _all(engine, sql, w=workspace_id, c=currency, cat=category, f=first, l=last)[0][0]


def test_each_weekly_change_is_the_sql_net_spend_and_the_only_large_move_of_its_week(ledgerly, ledgerly_pg):
    _, truth = ledgerly
    categories = [
        r[0]
        for r in _all(
            ledgerly_pg,
            "SELECT DISTINCT category FROM transactions WHERE amount_minor < 0 AND category IS NOT NULL",
        )
    ]
    for change in truth.weekly_changes:
        week = (change.week_end - timedelta(days=6), change.week_end)
        before = (week[0] - timedelta(days=7), week[1] - timedelta(days=7))
        args = (ledgerly_pg, change.workspace_id, change.currency)
        assert _spend(*args, change.category, *week) == change.total_minor
        assert _spend(*args, change.category, *before) == change.previous_total_minor
        assert change.change_pct >= 20
        for other in categories:
            if other != change.category and other not in ("sales", "services"):
                moved = _spend(*args, other, *week) / _spend(*args, other, *before) - 1
                assert abs(moved) < 0.08, (change.workspace_id, other, moved)


def test_monthly_totals_are_the_sql_sums_per_local_month_currency_and_category(ledgerly, ledgerly_pg):
    _, truth = ledgerly
    months = sorted({m.month for m in truth.monthly_totals})
    assert len(months) == 2  # September and October 2026: the months the data wholly covers
    sql = f"""SELECT workspace_id, date_trunc('month', local_day)::date AS month, currency, category,
        SUM(amount_minor) FROM ({LOCAL_TXNS}) t WHERE category IS NOT NULL
        AND local_day >= :first AND local_day < :after GROUP BY 1, 2, 3, 4"""
    rows = _all(ledgerly_pg, sql, first=months[0], after=months[-1] + timedelta(days=31))
    by_sql = {(str(r[0]), r[1], r[2], r[3]): r[4] for r in rows if r[1] in months}
    planted = {(m.workspace_id, m.month, m.currency, m.category): m.total_minor for m in truth.monthly_totals}
    assert by_sql == planted
    assert {"USD", "EUR", "JPY", "KWD", "NZD"} <= {key[2] for key in planted}


def test_the_only_charges_booked_twice_are_the_planted_duplicates(ledgerly, ledgerly_pg):
    _, truth = ledgerly
    sql = f"""SELECT workspace_id, local_day, amount_minor, array_agg(id::text ORDER BY booked_at),
        COUNT(DISTINCT counterparty), COUNT(DISTINCT account_id)
        FROM ({LOCAL_TXNS}) t WHERE type IN ('card_payment', 'direct_debit')
        GROUP BY workspace_id, account_id, local_day, amount_minor HAVING COUNT(*) > 1"""
    found = {(str(r[0]), r[1], r[2], tuple(r[3])) for r in _all(ledgerly_pg, sql) if (r[4], r[5]) == (1, 1)}
    assert len(found) == len(_all(ledgerly_pg, sql))  # each repeat is one counterparty on one account
    planted = {
        (d.workspace_id, d.day, d.amount_minor, (d.original_id, d.duplicate_id))
        for d in truth.duplicate_charges
    }
    assert found == planted and len(planted) == 5


def _orders_per_day(engine) -> dict[tuple[str, object], int]:
    sql = """SELECT o.workspace_id, (o.placed_at AT TIME ZONE w.timezone)::date, COUNT(*)
        FROM shop_orders o JOIN workspaces w ON w.id = o.workspace_id GROUP BY 1, 2"""
    return {(str(r[0]), r[1]): r[2] for r in _all(engine, sql)}


def test_order_volume_drops_are_counted_in_the_local_day_against_the_28_days_before(ledgerly, ledgerly_pg):
    _, truth = ledgerly
    counts = _orders_per_day(ledgerly_pg)
    for drop in truth.order_volume_drops:
        before = [counts[drop.workspace_id, drop.day - timedelta(days=k)] for k in range(28, 0, -1)]
        assert counts[drop.workspace_id, drop.day] == drop.orders
        assert statistics.median_low(before) == drop.typical_orders and drop.orders < 0.5 * min(before)


def test_clean_days_have_no_duplicate_charge_and_a_normal_order_count(ledgerly, ledgerly_pg):
    _, truth = ledgerly
    counts = _orders_per_day(ledgerly_pg)
    duplicated = {(d.workspace_id, d.day) for d in truth.duplicate_charges}
    assert len(truth.clean_days) == 4 * 6
    for clean in truth.clean_days:
        assert (clean.workspace_id, clean.day) not in duplicated
        assert 27 <= counts[clean.workspace_id, clean.day] <= 33


def test_open_invoices_are_the_open_rows_with_their_lines_and_allocations(ledgerly, ledgerly_pg):
    _, truth = ledgerly
    sql = """SELECT i.workspace_id, i.id, i.number, i.due_on, i.currency,
        (SELECT SUM(l.quantity * l.unit_price_minor) FROM invoice_lines l WHERE l.invoice_id = i.id),
        (SELECT COALESCE(SUM(p.amount_minor), 0) FROM payment_allocations p WHERE p.invoice_id = i.id)
        FROM invoices i WHERE i.status = 'open'"""
    by_sql = {(str(r[0]), str(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in _all(ledgerly_pg, sql)}
    planted = {
        (o.workspace_id, o.invoice_id, o.number, o.due_on, o.currency, o.total_minor, o.paid_minor)
        for o in truth.open_invoices
    }
    assert by_sql == planted
    # Some are overdue at the last day, and each workspace has two falling due in the 3 days after.
    assert any(o.due_on < truth.last_day for o in truth.open_invoices)
    soon = [o for o in truth.open_invoices if truth.last_day < o.due_on <= truth.last_day + timedelta(days=3)]
    assert len(soon) >= 2 * 4
    paid = """SELECT COUNT(*) FROM invoices i WHERE i.status = 'paid' AND
        (SELECT SUM(quantity * unit_price_minor) FROM invoice_lines WHERE invoice_id = i.id)
        <> (SELECT COALESCE(SUM(amount_minor), 0) FROM payment_allocations WHERE invoice_id = i.id)"""
    assert _all(ledgerly_pg, paid)[0][0] == 0  # 'paid' means allocated in full


def test_payment_matches_cover_every_allocation_and_the_payments_not_yet_allocated(ledgerly, ledgerly_pg):
    _, truth = ledgerly
    matches = {(m.payment_id, m.invoice_id, m.amount_minor) for m in truth.payment_matches}
    allocations = {
        (str(r[0]), str(r[1]), r[2])
        for r in _all(ledgerly_pg, "SELECT payment_id, invoice_id, amount_minor FROM payment_allocations")
    }
    assert allocations < matches and len(matches - allocations) >= 4  # some left to reconcile
    sql = """SELECT p.id, p.amount_minor, p.currency, i.id, i.currency,
        (SELECT SUM(quantity * unit_price_minor) FROM invoice_lines WHERE invoice_id = i.id)
        FROM incoming_payments p, invoices i WHERE p.id = CAST(:p AS uuid) AND i.id = CAST(:i AS uuid)"""
    paid: dict[str, int] = defaultdict(int)
    for payment_id, invoice_id, amount in matches:
        (row,) = _all(ledgerly_pg, sql, p=payment_id, i=invoice_id)
        assert (row[1], row[2]) == (amount, row[4])
        paid[invoice_id] += amount
        assert paid[invoice_id] <= row[5]
    unmatched = _all(ledgerly_pg, "SELECT id FROM incoming_payments")
    assert len({str(r[0]) for r in unmatched} - {m[0] for m in matches}) == 3 * 4  # paid for nothing


def test_document_matches_cover_every_link_and_parsed_amounts_equal_the_charge(ledgerly, ledgerly_pg):
    _, truth = ledgerly
    matches = {(m.document_id, m.transaction_id) for m in truth.document_matches}
    links = {
        (str(r[0]), str(r[1]))
        for r in _all(ledgerly_pg, "SELECT document_id, transaction_id FROM document_links")
    }
    assert links < matches
    sql = """SELECT d.id, d.ocr_status, d.amount_minor, d.currency, t.amount_minor, t.currency
        FROM inbox_documents d JOIN transactions t ON t.id = CAST(:t AS uuid) WHERE d.id = CAST(:d AS uuid)"""
    statuses = set()
    for document_id, transaction_id in matches:
        (row,) = _all(ledgerly_pg, sql, d=document_id, t=transaction_id)
        statuses.add(row[1])
        if row[1] == "failed":
            assert (row[2], row[3]) == (None, None)
        else:
            assert (row[2], row[3]) == (-row[4], row[5])
    assert statuses == {"parsed", "partial", "failed"}
    documents = {str(r[0]) for r in _all(ledgerly_pg, "SELECT id FROM inbox_documents")}
    assert len(documents - {d for d, _ in matches}) == 5 * 4  # receipts of nothing booked


def test_customers_to_enrich_are_those_without_facts(ledgerly, ledgerly_pg):
    _, truth = ledgerly
    sql = """SELECT c.id FROM customers c LEFT JOIN customer_facts f ON f.customer_id = c.id
        WHERE f.customer_id IS NULL ORDER BY c.id"""
    assert sorted(str(r[0]) for r in _all(ledgerly_pg, sql)) == truth.customers_to_enrich
    assert len(truth.customers_to_enrich) == 4 * (12 - 3)


PATTERNS = {
    "email": re.compile(r"\b[\w.]+@[\w-]+\.\w+"),
    "phone": re.compile(r"\+\d{2}[\d ]{7,}\d"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{12,30}\b"),
}


def test_personal_notes_are_the_notes_holding_an_email_a_phone_or_an_iban(ledgerly, ledgerly_pg):
    _, truth = ledgerly
    found = {}
    for customer_id, notes in _all(ledgerly_pg, "SELECT id, notes FROM customers WHERE notes IS NOT NULL"):
        kinds = sorted(kind for kind, pattern in PATTERNS.items() if pattern.search(notes))
        if kinds:
            found[str(customer_id)] = kinds
    assert found == {p.customer_id: p.kinds for p in truth.personal_notes}
    assert {kind for p in truth.personal_notes for kind in p.kinds} == {"email", "phone", "iban"}


def test_the_activity_log_has_one_event_per_import_link_and_payment(ledgerly_pg):
    counts = dict(_all(ledgerly_pg, "SELECT action, COUNT(*) FROM activity_log GROUP BY action"))
    tables = {
        "transaction.imported": "transactions",
        "document.matched": "document_links",
        "payment.received": "incoming_payments",
        "payment.allocated": "payment_allocations",
    }
    for action, table in tables.items():
        assert counts[action] == _all(ledgerly_pg, f"SELECT COUNT(*) FROM {table}")[0][0], action
    assert (
        counts["invoice.paid"]
        == _all(ledgerly_pg, "SELECT COUNT(*) FROM invoices WHERE status = 'paid'")[0][0]
    )
    assert counts["invoice.overdue"] > 0 and counts["invoice.upcoming"] > 0
    ids = [r[0] for r in _all(ledgerly_pg, "SELECT id FROM activity_log ORDER BY occurred_at, id")]
    assert ids == sorted(ids)  # ids follow time: a reader claiming by id sees them in order

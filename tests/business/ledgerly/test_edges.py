"""Every edge case a real product's data has and the sample's does not, present in the loaded
Ledgerly database: so the kinds mapped onto it meet each of them (issue 23's list)."""

from __future__ import annotations

import sqlalchemy as sa


def _all(engine: sa.Engine, sql: str) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql)))


def _one(engine: sa.Engine, sql: str) -> object:
    return _all(engine, sql)[0][0]


def test_columns_are_uuid_timestamptz_and_signed_bigint_minor_units(ledgerly_pg):
    sql = """SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND (table_name, column_name) IN (
        ('transactions', 'id'), ('transactions', 'booked_at'), ('transactions', 'amount_minor'),
        ('incoming_payments', 'received_at'), ('workspaces', 'id'))"""
    types = {(r[0], r[1]): r[2] for r in _all(ledgerly_pg, sql)}
    assert types == {
        ("transactions", "id"): "uuid",
        ("transactions", "booked_at"): "timestamp with time zone",
        ("transactions", "amount_minor"): "bigint",
        ("incoming_payments", "received_at"): "timestamp with time zone",
        ("workspaces", "id"): "uuid",
    }
    assert _one(ledgerly_pg, "SELECT COUNT(*) FROM transactions WHERE amount_minor < 0") > 0
    assert _one(ledgerly_pg, "SELECT COUNT(*) FROM transactions WHERE amount_minor > 0") > 0


def test_accounts_hold_jpy_with_no_decimals_and_kwd_with_three_beside_a_base_currency(ledgerly_pg):
    sql = """SELECT w.base_currency, array_agg(DISTINCT a.currency ORDER BY a.currency)
        FROM workspaces w JOIN bank_accounts a ON a.workspace_id = w.id GROUP BY w.base_currency"""
    assert dict(_all(ledgerly_pg, sql)) == {
        "EUR": ["EUR", "USD"],
        "JPY": ["JPY"],
        "KWD": ["EUR", "KWD"],
        "NZD": ["NZD"],
    }
    # Yen amounts are whole yen of everyday size (a coffee is hundreds, not hundreds of thousands);
    # fils amounts are thousandths, so most are not multiples of 10.
    jpy = _one(
        ledgerly_pg,
        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY -amount_minor) FROM transactions "
        "WHERE currency = 'JPY' AND category = 'office'",
    )
    kwd_odd = _one(
        ledgerly_pg, "SELECT AVG((amount_minor % 10 <> 0)::int) FROM transactions WHERE currency = 'KWD'"
    )
    assert 3000 < jpy < 10000 and kwd_odd > 0.8
    assert (
        _one(
            ledgerly_pg,
            "SELECT COUNT(*) FROM transactions t JOIN bank_accounts a ON a.id = t.account_id "
            "WHERE t.currency <> a.currency",
        )
        == 0
    )


def test_refunds_give_back_part_of_an_earlier_charge_of_the_same_account(ledgerly_pg):
    sql = """SELECT r.amount_minor, o.amount_minor, r.booked_at > o.booked_at, r.account_id = o.account_id,
        r.counterparty = o.counterparty FROM transactions r JOIN transactions o ON o.id = r.refund_of"""
    rows = _all(ledgerly_pg, sql)
    assert len(rows) >= 4 * 3
    assert all(
        0 < refund < -original and later and same and who for refund, original, later, same, who in rows
    )
    assert (
        _one(
            ledgerly_pg,
            "SELECT COUNT(*) FROM transactions WHERE (type = 'refund') <> (refund_of IS NOT NULL)",
        )
        == 0
    )


def test_transfers_are_two_legs_between_a_workspaces_own_accounts(ledgerly_pg):
    sql = """SELECT t.transfer_group, COUNT(*), COUNT(DISTINCT t.account_id), COUNT(DISTINCT a.workspace_id),
        SUM(SIGN(t.amount_minor)), COUNT(DISTINCT t.currency), SUM(t.amount_minor),
        bool_and(t.category IS NULL)
        FROM transactions t JOIN bank_accounts a ON a.id = t.account_id
        WHERE t.type = 'transfer' GROUP BY t.transfer_group"""
    groups = _all(ledgerly_pg, sql)
    assert len(groups) >= 4 * 3
    for _, legs, accounts, workspaces, signs, currencies, total, uncategorised in groups:
        assert (legs, accounts, workspaces, signs, uncategorised) == (2, 2, 1, 0, True)
        assert currencies == 2 or total == 0  # in one currency the legs cancel out
    assert any(g[5] == 2 for g in groups)  # and some cross currencies (EUR to USD, KWD to EUR)


def test_uncategorised_rows_and_fees_without_counterparty(ledgerly_pg):
    assert (
        _one(
            ledgerly_pg, "SELECT COUNT(*) FROM transactions WHERE category IS NULL AND type = 'card_payment'"
        )
        > 0
    )
    assert (
        _one(ledgerly_pg, "SELECT COUNT(*) FROM transactions WHERE counterparty IS NULL AND type = 'fee'") > 0
    )


def test_inbox_documents_where_ocr_failed_have_null_amounts_and_partial_ones_miss_a_field(ledgerly_pg):
    counts = dict(_all(ledgerly_pg, "SELECT ocr_status, COUNT(*) FROM inbox_documents GROUP BY 1"))
    assert set(counts) == {"parsed", "partial", "failed"}
    failed = """SELECT COUNT(*) FROM inbox_documents WHERE ocr_status = 'failed'
        AND amount_minor IS NULL AND document_date IS NULL AND vendor_text IS NULL"""
    assert _one(ledgerly_pg, failed) == counts["failed"]
    partial = """SELECT COUNT(*) FROM inbox_documents WHERE ocr_status = 'partial'
        AND amount_minor IS NOT NULL AND (document_date IS NULL OR vendor_text IS NULL)"""
    assert _one(ledgerly_pg, partial) == counts["partial"]


def test_members_without_an_email_or_a_time_zone(ledgerly_pg):
    sql = """SELECT COUNT(*) FILTER (WHERE email IS NULL), COUNT(*) FILTER (WHERE timezone IS NULL),
        COUNT(*) FILTER (WHERE email IS NULL AND timezone IS NULL) FROM workspace_members"""
    no_email, no_zone, neither = _all(ledgerly_pg, sql)[0]
    assert no_email >= 3 and no_zone >= 3 and neither >= 1
    assert _one(ledgerly_pg, "SELECT COUNT(*) FROM workspaces WHERE billing_email IS NULL") == 1


def test_invoices_in_every_status_drafts_without_number_and_partial_payments(ledgerly_pg):
    counts = dict(_all(ledgerly_pg, "SELECT status, COUNT(*) FROM invoices GROUP BY 1"))
    assert set(counts) == {"draft", "open", "paid", "void"} and counts["draft"] == 2 * 4
    drafts = """SELECT COUNT(*) FROM invoices WHERE status = 'draft'
        AND number IS NULL AND issued_on IS NULL AND due_on IS NULL"""
    assert _one(ledgerly_pg, drafts) == counts["draft"]
    assert (
        _one(ledgerly_pg, "SELECT COUNT(*) FROM invoices WHERE (status = 'void') <> (voided_at IS NOT NULL)")
        == 0
    )
    instalments = (
        "SELECT COUNT(*) FROM (SELECT invoice_id FROM payment_allocations GROUP BY 1 HAVING COUNT(*) > 1) x"
    )
    assert _one(ledgerly_pg, instalments) > 0
    part_paid = """SELECT COUNT(*) FROM invoices i WHERE i.status = 'open'
        AND EXISTS (SELECT 1 FROM payment_allocations p WHERE p.invoice_id = i.id)"""
    assert _one(ledgerly_pg, part_paid) > 0
    assert _one(ledgerly_pg, "SELECT COUNT(*) FROM invoices WHERE schedule = 'monthly'") > 0
    lines = "SELECT COUNT(*) FROM (SELECT invoice_id FROM invoice_lines GROUP BY 1 HAVING COUNT(*) > 1) x"
    assert _one(ledgerly_pg, lines) > 0


def test_payment_references_are_exact_garbled_embedded_or_missing(ledgerly_pg):
    sql = """SELECT COUNT(*) FILTER (WHERE p.reference = i.number),
        COUNT(*) FILTER (WHERE p.reference = lower(replace(i.number, '-', ''))),
        COUNT(*) FILTER (WHERE p.reference LIKE '%' || i.number || '%' AND p.reference <> i.number),
        COUNT(*) FILTER (WHERE p.reference IS NULL)
        FROM payment_allocations a JOIN incoming_payments p ON p.id = a.payment_id
        JOIN invoices i ON i.id = a.invoice_id"""
    assert all(n > 0 for n in _all(ledgerly_pg, sql)[0])
    assert _one(ledgerly_pg, "SELECT COUNT(*) FROM incoming_payments WHERE payer_name IS NULL") > 0


def test_customers_hold_personal_data_some_of_it_missing(ledgerly_pg):
    sql = """SELECT COUNT(*) FILTER (WHERE email IS NULL), COUNT(*) FILTER (WHERE phone IS NULL),
        COUNT(*) FILTER (WHERE iban IS NOT NULL), COUNT(*) FILTER (WHERE contact_name IS NULL)
        FROM customers"""
    assert all(n > 0 for n in _all(ledgerly_pg, sql)[0])
    assert _one(ledgerly_pg, "SELECT COUNT(*) FROM shop_orders WHERE customer_id IS NULL") > 0  # guests


HOSTILE = (
    "<script",
    "javascript:",
    "@here",
    "@channel",
    "<!channel>",
    "\u202e",
    "ignore all previous",
    "ignore previous",
    "https://evil.example",
)


def test_hostile_text_sits_in_every_free_text_field(ledgerly_pg):
    fields = (
        ("customers", "name"),
        ("customers", "notes"),
        ("transactions", "counterparty"),
        ("transactions", "reference"),
        ("inbox_documents", "vendor_text"),
        ("incoming_payments", "reference"),
    )
    for table, column in fields:
        texts = [
            r[0].lower()
            for r in _all(ledgerly_pg, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
        ]
        assert any(marker in text for text in texts for marker in HOSTILE), (table, column)
    notes = [r[0] for r in _all(ledgerly_pg, "SELECT notes FROM customers WHERE notes IS NOT NULL")]
    assert any("\u202e" in n for n in notes) and any("instructions" in n for n in notes)

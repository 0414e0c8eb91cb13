"""The Ledgerly generator: the same seed gives the same rows and truth in any process, another
seed other data, and the truth holds one entry list per business kind over the stated period."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from datetime import date, timedelta

from agentjobs.business.ledgerly.generate import WEEKS, generate
from agentjobs.business.ledgerly.truth import Truth, load_truth, write_truth
from tests.conftest import REPO

DIGEST = """
import hashlib, json
from agentjobs.business.ledgerly.generate import generate
rows, truth = generate()
print(hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest())
print(truth.to_json())
"""


def test_the_same_seed_gives_identical_rows_and_a_byte_identical_truth_in_another_process(ledgerly):
    rows, truth = ledgerly
    # Another interpreter with another string-hash seed: set iteration or hash() would show here.
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    out = subprocess.run(
        [sys.executable, "-c", DIGEST],
        check=True,
        env=env,
        cwd=REPO,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout
    digest, _, truth_json = out.partition("\n")
    assert digest == hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest()
    assert truth_json == truth.to_json() + "\n"


def test_another_seed_gives_other_ids_and_other_plants(ledgerly):
    rows, truth = ledgerly
    other_rows, other = generate(seed=8)
    assert other.seed == 8 and other.last_day == truth.last_day
    assert {w["id"] for w in other_rows["workspaces"]}.isdisjoint(w["id"] for w in rows["workspaces"])
    assert [d.amount_minor for d in other.duplicate_charges] != [
        d.amount_minor for d in truth.duplicate_charges
    ]


def test_the_truth_is_written_and_read_back_with_a_list_per_kind(ledgerly, tmp_path):
    _, truth = ledgerly
    path = tmp_path / "out" / "ledgerly.truth.json"
    write_truth(path, truth)
    assert load_truth(path) == truth
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data) == [
        "seed",
        "first_day",
        "last_day",
        "weekly_changes",
        "duplicate_charges",
        "order_volume_drops",
        "clean_days",
        "document_matches",
        "payment_matches",
        "open_invoices",
        "monthly_totals",
        "customers_to_enrich",
        "personal_notes",
    ]
    assert all(data[key] for key in list(data)[3:]), "every kind has something planted"
    assert isinstance(truth, Truth) and truth.last_day == date(2026, 11, 28)
    assert truth.first_day.weekday() == 6  # 16 Sunday-Saturday weeks
    assert truth.first_day + timedelta(days=7 * WEEKS - 1) == truth.last_day


def test_ids_are_uuids_and_every_reference_names_a_row_of_its_table(ledgerly):
    rows, _ = ledgerly
    ids = {table: {r["id"] for r in table_rows if "id" in r} for table, table_rows in rows.items()}
    for table in ("workspaces", "bank_accounts", "transactions", "invoices", "customers", "inbox_documents"):
        assert all(uuid.UUID(i).version == 5 for i in ids[table]), table
    assert {r["account_id"] for r in rows["transactions"]} <= ids["bank_accounts"]
    assert {r["refund_of"] for r in rows["transactions"] if r["refund_of"]} <= ids["transactions"]
    assert {r["transaction_id"] for r in rows["document_links"]} <= ids["transactions"]
    assert {r["invoice_id"] for r in rows["payment_allocations"]} <= ids["invoices"]
    assert {r["customer_id"] for r in rows["shop_orders"] if r["customer_id"]} <= ids["customers"]

"""reconcile_write on SQLite and PostgreSQL: a link and its ledger row are written together once; a
receipt or transaction taken meanwhile is recorded as a conflict and never overwritten; a second
opinion on a judged receipt writes nothing; a review answer links only what was proposed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentjobs.business import schema
from agentjobs.jobs.kinds.reconcile_write import Decision, LedgerDisagrees, resolve_review, write_decisions
from tests.postgres import fresh_database

TEAM = "team-x"


def build(engine: sa.Engine) -> None:
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(schema.teams.insert(), [{"id": TEAM, "name": "X", "timezone": "UTC", "currency": "EUR"}])
        conn.execute(schema.vendors.insert(), [{"id": "ven-1", "team_id": TEAM, "name": "Acme"}])
        conn.execute(
            schema.transactions.insert(),
            [
                {"id": f"txn-{n}", "team_id": TEAM, "occurred_at": datetime(2026, 11, n, 10),
                 "kind": "expense", "category": "office", "amount_cents": 1000 * n, "currency": "EUR",
                 "vendor_id": "ven-1", "customer_id": None, "description": "Acme: paper"}
                for n in (1, 2, 3)
            ],
        )  # fmt: skip
        conn.execute(
            schema.receipts.insert(),
            [
                {"id": f"rcp-{n}", "team_id": TEAM, "vendor_id": "ven-1", "received_on": date(2026, 11, n),
                 "amount_cents": 1000 * n, "currency": "EUR", "transaction_id": None}
                for n in (1, 2, 3, 4)
            ],
        )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'b.db'}")
        build(engine)
        yield engine
        engine.dispose()
        return
    with fresh_database("agentjobs_recwrite") as name:
        engine = sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}")
        try:
            build(engine)
            yield engine
        finally:
            engine.dispose()


def state(engine: sa.Engine) -> tuple[dict[str, str | None], dict[str, tuple[str, str | None]]]:
    with engine.connect() as conn:
        links = dict(conn.execute(sa.text("SELECT id, transaction_id FROM receipts ORDER BY id")).all())
        ledger = {
            r: (o, t)
            for r, o, t in conn.execute(
                sa.text("SELECT record_id, outcome, transaction_id FROM processed_records")
            )
        }
    return links, ledger


def test_links_and_ledger_rows_are_written_once_and_a_taken_receipt_or_transaction_is_a_conflict(engine):
    with engine.begin() as conn:  # linked by someone else after the fetch
        conn.execute(
            schema.receipts.update().where(schema.receipts.c.id == "rcp-2").values(transaction_id="txn-3")
        )
    decisions = [
        Decision("rcp-1", "linked", "txn-1", 0.9),
        Decision("rcp-2", "linked", "txn-2", 0.9),  # the receipt is taken
        Decision("rcp-3", "linked", "txn-3", 0.9),  # the transaction is taken (by rcp-2)
        Decision("rcp-4", "no_match", note="no candidate is this receipt's"),
    ]
    written = write_decisions(engine, period="2026-11-28", team_id=TEAM, decisions=decisions)
    assert (written.linked, written.conflicts, written.recorded) == (["rcp-1"], ["rcp-2", "rcp-3"], ["rcp-4"])
    links, ledger = state(engine)
    assert links == {"rcp-1": "txn-1", "rcp-2": "txn-3", "rcp-3": None, "rcp-4": None}
    assert ledger["rcp-1"] == ("linked", "txn-1") and ledger["rcp-2"][0] == ledger["rcp-3"][0] == "conflict"

    again = write_decisions(engine, period="2026-11-28", team_id=TEAM, decisions=decisions)  # a retry
    assert again.already == ["rcp-1", "rcp-2", "rcp-3", "rcp-4"] and state(engine) == (links, ledger)

    with pytest.raises(LedgerDisagrees, match="rcp-4 was judged already"):
        write_decisions(
            engine, period="2026-11-29", team_id=TEAM, decisions=[Decision("rcp-4", "linked", "txn-2", 0.95)]
        )
    assert state(engine) == (links, ledger)


def test_a_review_answer_links_the_approved_proposal_and_closes_the_rest(engine):
    decisions = [
        Decision("rcp-2", "review", "txn-2", 0.7, "confidence"),
        Decision("rcp-3", "review", "txn-3", 0.6),
    ]
    write_decisions(engine, period="2026-11-28", team_id=TEAM, decisions=decisions)
    with pytest.raises(LedgerDisagrees, match="proposed for txn-2"):
        resolve_review(engine, reviewer="Controller", team_id=TEAM, approved={"rcp-2": "txn-1"}, rejected=[])
    written = resolve_review(
        engine, reviewer="Controller", team_id=TEAM, approved={"rcp-2": "txn-2"}, rejected=["rcp-3"]
    )
    assert (written.linked, written.recorded) == (["rcp-2"], ["rcp-3"])
    links, ledger = state(engine)
    assert links["rcp-2"] == "txn-2" and links["rcp-3"] is None
    assert ledger["rcp-2"] == ("linked", "txn-2") and ledger["rcp-3"] == ("rejected", "txn-3")
    # Answered twice (a retry of the review task): nothing changes.
    again = resolve_review(
        engine, reviewer="Controller", team_id=TEAM, approved={"rcp-2": "txn-2"}, rejected=["rcp-3"]
    )
    assert again.already == ["rcp-2", "rcp-3"] and state(engine) == (links, ledger)

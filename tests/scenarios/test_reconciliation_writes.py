"""reconciliation end to end with dag.test() writing its links as rows of a link table of the
user's (sources.sql.writes, YAML only) on a copy of the sample database, on SQLite and
PostgreSQL: the links are true ones, the receipts table is never updated, the ledger is
agentjobs' own (its own schema on PostgreSQL; the sample's processed_records stays empty), and
a clear of the run asks, writes and sends nothing again."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import respond
from tests.jobs.business import BUSINESS_CONN, serving_instant, shipped_spec, team_states
from tests.jobs.specs import sqlite_ledger
from tests.scenarios.test_reconciliation import TEAM, forget_runs, slack_posts, top_candidate, writable_db

__all__ = ["writable_db"]  # the fixture, shared with test_reconciliation.py
pytestmark = pytest.mark.airflow


def mapped_sql(at: str, ledger: str) -> dict[str, object]:
    """The user's YAML, as data: the sample's reads, leaving out what their link table holds."""
    receipts = (
        "SELECT r.id, r.vendor_id, v.name AS vendor_name, r.received_on, r.amount_cents, r.currency "
        "FROM receipts r LEFT JOIN vendors v ON v.id = r.vendor_id "
        "WHERE r.team_id = :team_id AND r.received_on >= :first AND r.received_on <= :last "
        f"AND NOT EXISTS (SELECT 1 FROM {at}receipt_links l WHERE l.doc_id = r.id) "
        "AND r.transaction_id IS NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {ledger} p WHERE p.record_type = 'receipt' AND p.record_id = r.id) "
        "ORDER BY r.received_on, r.id"
    )
    transactions = (
        "SELECT t.id, t.occurred_at, t.category, t.amount_cents, t.currency, t.vendor_id, "
        "v.name AS vendor_name FROM transactions t LEFT JOIN vendors v ON v.id = t.vendor_id "
        "WHERE t.team_id = :team_id AND t.kind = 'expense' AND t.occurred_at >= :start "
        "AND t.occurred_at < :end AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.transaction_id = t.id) "
        f"AND NOT EXISTS (SELECT 1 FROM {at}receipt_links l WHERE l.tx_id = t.id) "
        "ORDER BY t.occurred_at, t.id"
    )
    return {
        "conn_id": BUSINESS_CONN,
        "inputs": {"receipts": {"sql": receipts}, "transactions": {"sql": transactions}},
        "writes": {
            "links": {
                "table": f"{at}receipt_links",
                "columns": {"receipt_id": "doc_id", "transaction_id": "tx_id", "confidence": "score"},
            }
        },
    }


def test_links_go_to_the_users_link_table_once_and_the_ledger_to_agentjobs_own(
    llm_conn, writable_db, business_db, model_server, slack_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    url = sa.engine.make_url(writable_db)
    pg = url.get_backend_name() != "sqlite"
    at, ledger = ("acme.", "agentjobs.processed_records") if pg else ("", "processed_records")
    conn = f"postgres://postgres@127.0.0.1:5432/{url.database}" if pg else None
    conn = conn or json.dumps({"conn_type": "sqlite", "host": url.database})
    monkeypatch.setenv(f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}", conn)
    engine = sa.create_engine(writable_db)
    with engine.begin() as c:
        if pg:
            c.execute(sa.text("CREATE SCHEMA acme"))
        c.execute(sa.text(f"CREATE TABLE {at}receipt_links (doc_id TEXT, tx_id TEXT, score NUMERIC)"))

    def updated() -> int:  # receipts whose own transaction_id column is set
        with engine.connect() as c:
            return int(
                c.execute(sa.text("SELECT count(*) FROM receipts WHERE transaction_id IS NOT NULL")).scalar()
            )

    def book() -> tuple[list[tuple[str, str]], dict[str, tuple[str, str | None]], int]:
        with engine.connect() as c:
            links = [tuple(r) for r in c.execute(sa.text(f"SELECT doc_id, tx_id FROM {at}receipt_links"))]
            judged = {
                rid: (outcome, tid)
                for rid, outcome, tid in c.execute(
                    sa.text(f"SELECT record_id, outcome, transaction_id FROM {ledger}")
                )
            }
        return sorted(links), judged, updated()

    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": None, "member_preview": False}
    spec = shipped_spec(
        "reconciliation.yaml",
        llm_conn,
        BUSINESS_CONN,
        sources={"sql": mapped_sql(at, ledger)},
        team_delivery=delivery,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    truth = business_db.truth
    true_of = {m.receipt_id: m.transaction_id for m in truth.receipt_matches}
    linked_before = updated()
    model_server.default_step = respond(top_candidate)
    dag = build_dag(spec)
    when = serving_instant(spec, TEAM, truth.last_day)

    run = run_dag(dag, logical_date=when, run_conf={"teams": [TEAM]})
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    result = xcom(run, "team.validate", map_index=0)["result"]
    links, judged, linked_after = book()
    assert links == sorted((rid, link["transaction"]) for rid, link in result["links"].items()) and links
    assert all(true_of[rid] == tid for rid, tid in links), links
    assert set(judged) == {*result["links"], *result["review"], *result["no_match"]}
    assert {judged[rid] for rid, _ in links} == {("linked", tid) for _, tid in links}
    if pg:  # the sample's own ledger and receipts are not agentjobs' bookkeeping here
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM public.processed_records")).scalar() == 0
        assert sa.inspect(engine).get_foreign_keys("processed_records", schema="agentjobs") == []
    assert linked_after == linked_before  # links are rows of the link table, never an UPDATE
    assert model_server.calls == 1 and slack_posts(slack_server) == 1

    # A clear of the run: nothing asked, written or sent again.
    forget_runs(dag)
    run = run_dag(dag, logical_date=when, run_conf={"teams": [TEAM]})
    assert set(team_states(run).values()) == {"success"}
    assert book() == (links, judged, linked_after)
    assert model_server.calls == 1 and slack_posts(slack_server) == 1
    engine.dispose()

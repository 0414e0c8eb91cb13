"""reconciliation on Ledgerly, mapped with YAML only (business/ledgerly/jobs/reconciliation.yaml:
inbox documents against card payments and direct debits, links as rows of document_links), end
to end with dag.test() on PostgreSQL and the scripted model: every workspace's links are true ones
by Ledgerly's truth (precision and recall as on the sample), a document and a transaction each
linked once; a clear of the same runs writes, sends and asks the model nothing again; hostile
vendor text stays inert in the mails; with the review band on, a person approves two proposals
and only those are linked."""

from __future__ import annotations

import email
import email.policy
import html
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import respond
from tests.jobs.business import team_states
from tests.jobs.specs import sqlite_ledger
from tests.postgres import fresh_database
from tests.scenarios.ledgerly.conftest import (
    CONN_ID,
    ledgerly_spec,
    ledgerly_teams,
    serving_instant,
    workspace,
)
from tests.scenarios.test_reconciliation import answer_review_when_asked, forget_runs, middling, top_candidate

pytestmark = pytest.mark.airflow

LINKS = "SELECT document_id::text, transaction_id::text, linked_by FROM document_links"
LEDGER = "SELECT record_id, outcome, transaction_id FROM agentjobs.processed_records"
HOSTILE_DOCUMENTS = (
    "SELECT id::text, vendor_text FROM inbox_documents d WHERE vendor_text LIKE '@here%' "
    "AND NOT EXISTS (SELECT 1 FROM document_links k WHERE k.document_id = d.id)"
)


@pytest.fixture
def books(ledgerly, monkeypatch) -> Iterator[sa.Engine]:
    """A database of this test's own holding the `ledgerly` schema, as the specs' connection
    `ledgerly` (the job writes to it: the session's read-only Ledgerly stays as generated)."""
    from agentjobs.business.ledgerly.load import load

    with fresh_database("agentjobs_ledgerly_receipts") as name:
        url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        loader = sa.create_engine(url)
        try:
            load(loader, ledgerly[0], "ledgerly")
        finally:
            loader.dispose()
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", f"postgres://postgres@127.0.0.1:5432/{name}")
        # A session time zone far from every workspace's: nothing may lean on it.
        options = "-csearch_path=ledgerly -ctimezone=America/Caracas"
        engine = sa.create_engine(url, connect_args={"options": options})
        try:
            yield engine
        finally:
            engine.dispose()


def rows(engine: sa.Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def ledger(engine: sa.Engine) -> dict[str, tuple[str, str | None]]:
    """record -> (outcome, transaction) of agentjobs' processed-records ledger (none before a run)."""
    if not sa.inspect(engine).has_table("processed_records", schema="agentjobs"):
        return {}
    return {rid: (outcome, tid) for rid, outcome, tid in rows(engine, LEDGER)}


def mails(smtp_server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp_server.messages]


def plant_hostile_receipt(engine: sa.Engine) -> tuple[str, str, str]:
    """(document, transaction, vendor): an unlinked inbox document for the card payment the
    generator booked with a hostile counterparty (`<script>alert(1)</script> Labs ...`), its vendor
    read by OCR as printed. The generator's own hostile documents wrap a real vendor's name, so the
    name rule finds them no candidate and they never reach a summary; this one does."""
    with engine.begin() as conn:
        txn_id, vendor, amount, currency, booked, workspace_id = conn.execute(
            sa.text(
                "SELECT t.id::text, t.counterparty, -t.amount_minor, t.currency, t.booked_at, a.workspace_id "
                "FROM transactions t JOIN bank_accounts a ON a.id = t.account_id "
                "WHERE t.counterparty LIKE '<script>%' AND t.type = 'card_payment' "
                "AND NOT EXISTS (SELECT 1 FROM document_links k WHERE k.transaction_id = t.id) "
                "ORDER BY t.booked_at DESC LIMIT 1"
            )
        ).one()
        document_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"hostile-receipt-{txn_id}"))
        conn.execute(
            sa.text(
                "INSERT INTO inbox_documents (id, workspace_id, uploaded_at, source, file_name, "
                "ocr_status, vendor_text, document_date, amount_minor, currency) VALUES (CAST(:id AS uuid), "
                ":ws, :at, 'email', 'receipt_hostile.pdf', 'parsed', :vendor, NULL, :amount, :currency)"
            ),
            {
                "id": document_id,
                "ws": workspace_id,
                "at": booked + timedelta(hours=5),
                "vendor": vendor,
                "amount": amount,
                "currency": currency,
            },
        )
    return document_id, txn_id, vendor


def test_every_workspace_links_true_receipts_once_and_a_clear_does_nothing_again(
    books, ledgerly, llm_conn, model_server, smtp_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag
    from tests.delivery.inert import assert_inert_html, assert_no_bidi_controls

    truth = ledgerly[1]
    hostile_doc, hostile_txn, hostile_vendor = plant_hostile_receipt(books)
    true_of = {m.document_id: m.transaction_id for m in truth.document_matches} | {hostile_doc: hostile_txn}
    delivery = {"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False}
    spec = ledgerly_spec(
        "reconciliation.yaml",
        llm_conn,
        team_delivery=delivery,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    # Every unlinked receipt of the 90 days judged in one run per workspace (the shipped 5 a day
    # suit the embedded model's answer size), so precision and recall cover all of Ledgerly.
    spec = spec.with_kind_section({**spec.kind_section(), "max_records": 500})
    teams = [team for team, _ in ledgerly_teams(spec)]
    before = set(rows(books, LINKS))
    model_server.default_step = respond(top_candidate)
    dag = build_dag(spec)
    runs = [(team, serving_instant(spec, team, truth.last_day)) for team in teams]
    read, results, summaries = [], {}, {}
    for team, when in runs:
        run = run_dag(dag, logical_date=when)  # the hourly run at the workspace's 06:00
        assert set(team_states(run).values()) == {"success"}, (team.name, team_states(run))
        assert [entry["team"] for entry in xcom(run, "fetch")] == [team.id]
        out = xcom(run, "team.validate", map_index=0)
        snapshot = json.loads((Path(out["artifact"]).parent / "sources" / "sql.json").read_text())
        read += [str(r["id"]) for r in snapshot["tables"]["receipts"]]
        results[team.id] = out["result"]
        summaries[team.id] = Path(out["artifact"]).read_bytes()

    after = set(rows(books, LINKS))
    written = after - before
    assert {by for _, _, by in written} == {"agentjobs"}
    links = {d: t for d, t, _ in written}
    assert links == {d: x["transaction"] for r in results.values() for d, x in r["links"].items()}
    right = [d for d, t in links.items() if true_of.get(d) == t]
    relevant = [d for d in read if d in true_of]  # the receipts of nothing booked are not
    precision, recall = len(right) / len(links), len(right) / len(relevant)
    print(
        f"\nledgerly receipts: {len(read)} read, {len(relevant)} with a true transaction, {len(links)} "
        f"linked, {len(right)} true: precision {precision:.3f}, recall {recall:.3f}; "
        f"{sum(len(r['review']) for r in results.values())} for review, "
        f"{sum(len(r['no_match']) for r in results.values())} no match"
    )
    assert precision >= 0.98, sorted(set(links) - set(right))
    assert recall >= 0.85  # what the sample's reconciliation asks (tests/jobs/kinds/test_reconciliation.py)
    # A receipt linked once (the table's key), a transaction once: by SQL on the whole table.
    assert rows(books, "SELECT document_id FROM document_links GROUP BY 1 HAVING COUNT(*) > 1") == []
    assert rows(books, "SELECT transaction_id FROM document_links GROUP BY 1 HAVING COUNT(*) > 1") == []
    judged = ledger(books)
    assert set(judged) == {d for r in results.values() for g in ("links", "review", "no_match") for d in r[g]}
    assert {d: judged[d] for d in links} == {d: ("linked", t) for d, t in links.items()}
    # One mail per workspace with an address (Sakura has none), one model call per workspace.
    addressed = [team for team in teams if team.email_list]
    assert len(smtp_server.messages) == len(addressed) == 3 and model_server.calls == len(teams)

    # The hostile vendor is linked and mailed as text: no tag, no markup, no bidi control.
    assert links.get(hostile_doc) == hostile_txn
    (owner,) = [team for team in teams if hostile_doc in results[team.id]["links"]]
    (message,) = [m for m in mails(smtp_server) if owner.email_list[0] in m["To"]]
    page = message.get_body(preferencelist=("html",)).get_content()
    assert_inert_html(page)
    assert html.escape(hostile_vendor, quote=False) in page  # shown as text
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert_no_bidi_controls(plain)
    # The text part shows the name's own characters (text/plain has no markup to become live),
    # never the HTML escapes a reader would have to decode.
    assert hostile_vendor in plain and "&lt;" not in plain
    # The generator's own hostile receipt ("@here refund **now** BRIGHTADS GMBH") is read but,
    # its name wrapped in the text, finds no candidate: judged by no one, mailed to no one.
    generated = [d for d, v in rows(books, HOSTILE_DOCUMENTS) if d != hostile_doc]
    assert generated and set(generated) <= set(read) and not set(generated) & set(judged)
    assert not any("@here" in m.get_body(preferencelist=("plain",)).get_content() for m in mails(smtp_server))

    # A clear of every run: nothing written, sent or asked again. A workspace with an address
    # keeps its delivered summary; one with nowhere to deliver (Sakura) keeps the one its links
    # were applied from, so no model call for it either, and its apply finds every receipt done.
    (unaddressed,) = [team for team in teams if team not in addressed]
    assert unaddressed.id == workspace(spec, "sakura-design")[0].id and results[unaddressed.id]["links"]
    forget_runs(dag)
    for team, when in runs:
        calls = model_server.calls
        run = run_dag(dag, logical_date=when)
        assert set(team_states(run).values()) == {"success"}, (team.name, team_states(run))
        assert model_server.calls == calls, f"{team.name}: the clear asked the model again"
        out = xcom(run, "team.validate", map_index=0)
        assert out["result"] == results[team.id] and Path(out["artifact"]).read_bytes() == summaries[team.id]
        applied = xcom(run, "team.apply", map_index=0)
        assert applied["linked"] == applied["recorded"] == [], (team.name, applied)
    assert set(rows(books, LINKS)) == after and ledger(books) == judged
    assert len(smtp_server.messages) == 3
    assert model_server.calls == len(teams)


def test_with_review_on_a_person_approves_two_proposals_and_only_those_are_linked(
    books, ledgerly, llm_conn, model_server, smtp_server, monkeypatch, tmp_path
):
    """The shipped spec with its review band switched on (`review.enabled`), 5 receipts a day:
    every proposal at 0.7 goes to a person; the two they approve become document_links rows in
    their name, the others are closed as rejected and stay unlinked."""
    from agentjobs.operators.factory import build_dag

    truth = ledgerly[1]
    true_of = {m.document_id: m.transaction_id for m in truth.document_matches}
    delivery = {"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False}
    spec = ledgerly_spec(
        "reconciliation.yaml",
        llm_conn,
        team_delivery=delivery,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    section = spec.kind_section()
    spec = spec.with_kind_section(
        {**section, "review": {**section["review"], "enabled": True, "timeout_minutes": 30}}
    )
    team, _ = workspace(spec, "nordlicht-roesterei")
    before = set(rows(books, LINKS))
    model_server.default_step = respond(middling)
    dag = build_dag(spec)
    answered: list = []
    thread = answer_review_when_asked(dag.dag_id, lambda options: options[:2], answered)
    run = run_dag(dag, logical_date=serving_instant(spec, team, truth.last_day))
    thread.join(timeout=5)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    ((options, chosen),) = answered
    result = xcom(run, "team.validate", map_index=0)["result"]
    assert result["links"] == {} and len(options) == len(result["review"]) == 5  # max_records
    approved = {o.split(" → ")[0] for o in chosen}
    written = set(rows(books, LINKS)) - before
    assert written == {(d, result["review"][d]["transaction"], "Controller") for d in approved}
    assert all(true_of[d] == t for d, t, _ in written), written
    assert {d: outcome for d, (outcome, _) in ledger(books).items()} == {
        d: "linked" if d in approved else "rejected" for d in result["review"]
    }
    (message,) = mails(smtp_server)
    assert "## For review" in message.get_body(preferencelist=("plain",)).get_content()

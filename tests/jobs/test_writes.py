"""Declared write targets on a schema that is not the sample's, with YAML only, on a SQLite file
and in PostgreSQL (the user's tables in a schema `acme` of the test's own database, uuid ids):

- reconciliation links become rows of the user's link table, and its ledger is agentjobs' own
  table (own schema on PostgreSQL, no foreign keys); a retry writes nothing twice, a rerun
  reads none of the judged receipts again, a transaction linked meanwhile is a conflict;
- enrichment values become rows of the user's side table, the customers table untouched;
- the update form writes the user's own column while it is NULL;
- a target naming a column that does not exist fails at the contract check, naming both.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.jobs.input_check import check_inputs, check_writes, kind_pairs
from agentjobs.jobs.kinds import enrichment, reconciliation
from agentjobs.jobs.kinds.snapshots import team_snapshot
from agentjobs.jobs.own_tables import ensure_own_tables
from agentjobs.jobs.spec import JobSpec, JobSpecError, load_spec
from agentjobs.jobs.writes import SpecWrites
from agentjobs.sources.sql import read_tables
from agentjobs.sources.teams import Team
from tests.postgres import fresh_database

WHEN = datetime(2026, 11, 30, 12, tzinfo=UTC)
TEAM = Team(id="ws-1", name="Workspace One", timezone="UTC", currency="EUR")
DOCS = [str(uuid.UUID(int=n)) for n in range(1, 5)]
TXS = [str(uuid.UUID(int=100 + n)) for n in range(1, 5)]


class UserDb:
    """The user's database: an engine, where their tables live and where agentjobs' ledger is."""

    def __init__(self, engine: sa.Engine, backend: str) -> None:
        self.engine = engine
        self.pg = backend == "postgres"
        self.schema = "acme" if self.pg else None
        self.at = "acme." if self.pg else ""  # how the YAML names the user's tables
        self.ledger = "agentjobs.processed_records" if self.pg else "processed_records"

    def rows(self, table: str, order: str) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [
                tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {self.at}{table} ORDER BY {order}"))
            ]


def build(db: UserDb) -> None:
    """Inbox documents, bank transactions, an empty link table; clients and an empty side table."""
    meta = sa.MetaData(schema=db.schema)
    ident = sa.Uuid(as_uuid=False) if db.pg else sa.Text  # uuid ids: a uuid column on PostgreSQL
    docs = sa.Table(
        "inbox_docs", meta, sa.Column("doc_uuid", ident, primary_key=True), sa.Column("workspace", sa.Text),
        sa.Column("supplier", sa.Text), sa.Column("doc_date", sa.Date), sa.Column("total_minor", sa.Integer),
        sa.Column("ccy", sa.Text), sa.Column("matched_tx", ident, nullable=True),
    )  # fmt: skip
    txs = sa.Table(
        "bank_tx", meta, sa.Column("tx_uuid", ident, primary_key=True), sa.Column("workspace", sa.Text),
        sa.Column("booked_at", sa.DateTime), sa.Column("amount_minor", sa.Integer), sa.Column("ccy", sa.Text),
        sa.Column("counterparty", sa.Text),
    )  # fmt: skip
    sa.Table(
        "receipt_links", meta, sa.Column("doc_id", ident), sa.Column("tx_id", ident),
        sa.Column("score", sa.Numeric), sa.Column("created", sa.DateTime),
    )  # fmt: skip
    clients = sa.Table(
        "clients", meta, sa.Column("id", ident, primary_key=True), sa.Column("workspace", sa.Text),
        sa.Column("legal_name", sa.Text),
    )  # fmt: skip
    sa.Table(
        "client_facts", meta, sa.Column("client_id", ident), sa.Column("sector", sa.Text),
        sa.Column("country_code", sa.Text), sa.Column("headcount", sa.Integer),
        sa.Column("homepage", sa.Text), sa.Column("source_url", sa.Text),
        sa.Column("looked_up_at", sa.DateTime),
    )  # fmt: skip
    with db.engine.begin() as conn:
        if db.pg:
            conn.execute(sa.schema.CreateSchema("acme"))
        meta.create_all(conn)
        conn.execute(
            docs.insert(),
            [
                {"doc_uuid": DOCS[n], "workspace": TEAM.id, "supplier": "Paper Co",
                 "doc_date": date(2026, 11, 10 + n), "total_minor": 1000 * (n + 1), "ccy": "EUR",
                 "matched_tx": None}
                for n in range(4)
            ],
        )  # fmt: skip
        conn.execute(
            txs.insert(),
            [
                {"tx_uuid": TXS[n], "workspace": TEAM.id, "booked_at": datetime(2026, 11, 10 + n, 9),
                 "amount_minor": 1000 * (n + 1), "ccy": "EUR", "counterparty": "Paper Co"}
                for n in range(4)
            ],
        )  # fmt: skip
        conn.execute(
            clients.insert(),
            [{"id": DOCS[0], "workspace": TEAM.id, "legal_name": "Globex GmbH"},
             {"id": DOCS[1], "workspace": TEAM.id, "legal_name": "Initech AG"}],
        )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UserDb]:
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'user.db'}")
        user = UserDb(engine, "sqlite")
        build(user)
        yield user
        engine.dispose()
        return
    with fresh_database("agentjobs_writes") as name:
        engine = sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}")
        try:
            user = UserDb(engine, "postgres")
            build(user)
            yield user
        finally:
            engine.dispose()


def reconciliation_spec(db: UserDb, tmp_path: Path, links: str) -> tuple[JobSpec, Path]:
    """The user's YAML: the two inputs mapped onto their tables, `links` as the write target."""
    text = f"""\
        dag_id: recon_acme
        kind: reconciliation
        title: Receipts reconciled
        start_date: 2026-11-01
        skill: reconciliation
        sources:
          sql:
            conn_id: acme_db
            inputs:
              receipts:
                sql: >-
                  SELECT d.doc_uuid AS id, d.supplier AS vendor_id, d.supplier AS vendor_name,
                  d.doc_date AS received_on, d.total_minor AS amount_cents, d.ccy AS currency
                  FROM {db.at}inbox_docs d WHERE d.workspace = :team_id AND d.matched_tx IS NULL
                  AND d.doc_date >= :first AND d.doc_date <= :last
                  AND NOT EXISTS (SELECT 1 FROM {db.at}receipt_links l WHERE l.doc_id = d.doc_uuid)
                  AND NOT EXISTS (SELECT 1 FROM {db.ledger} p WHERE p.record_type = 'receipt'
                  AND p.record_id = CAST(d.doc_uuid AS TEXT)) ORDER BY d.doc_date, d.doc_uuid
              transactions:
                sql: >-
                  SELECT t.tx_uuid AS id, t.booked_at AS occurred_at, 'office' AS category,
                  t.amount_minor AS amount_cents, t.ccy AS currency, t.counterparty AS vendor_id,
                  t.counterparty AS vendor_name FROM {db.at}bank_tx t WHERE t.workspace = :team_id
                  AND t.booked_at >= :start AND t.booked_at < :end
                  AND NOT EXISTS (SELECT 1 FROM {db.at}receipt_links l WHERE l.tx_id = t.tx_uuid)
                  ORDER BY t.booked_at, t.tx_uuid
            writes:
              links:
        __LINKS__
        """
    text = textwrap.dedent(text).replace("__LINKS__\n", textwrap.indent(links, " " * 8) + "\n")
    path = tmp_path / "recon_acme.yaml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path), path


LINK_TABLE = (
    "table: {at}receipt_links\n"
    "columns: {{receipt_id: doc_id, transaction_id: tx_id, confidence: score, linked_at: created}}"
)


def snapshot(db: UserDb, spec: JobSpec, kind: Any) -> Any:
    return team_snapshot(
        kind,
        spec.kind_settings(),
        TEAM,
        [],
        WHEN,
        lambda q: read_tables(db.engine, q),
        spec.sources.sql.inputs,
    )


def run_recon(db: UserDb, spec: JobSpec, confidence: dict[int, float]) -> tuple[Any, dict[str, Any], dict]:
    """One run as the tasks do it: own tables, the mapped read, the model's answer (receipt n ->
    transaction n at `confidence[n]`), render's decisions, the apply task's write."""
    writes = SpecWrites.of(spec.sources.sql)
    ensure_own_tables(db.engine, reconciliation.KIND, writes)
    snap = snapshot(db, spec, reconciliation.KIND)
    read = {str(r["id"]) for r in snap.tables["receipts"]}
    matches = {DOCS[n]: {"transaction": TXS[n], "confidence": c} for n, c in confidence.items()}
    answer = {"matches": {rid: m for rid, m in matches.items() if rid in read}}
    result = reconciliation.KIND.render(snap, answer, spec.kind_settings(), spec.title).result
    return snap, result, reconciliation.KIND.apply(snap, result, spec.kind_settings(), db.engine, writes)


def test_reconciliation_writes_link_rows_and_its_own_ledger_once(db: UserDb, tmp_path: Path) -> None:
    spec, path = reconciliation_spec(db, tmp_path, LINK_TABLE.format(at=db.at))
    writes = SpecWrites.of(spec.sources.sql)
    # The contract check passes on the user's tables, before anything is written.
    pairs = kind_pairs(reconciliation.KIND, spec.kind_settings(), TEAM, [], WHEN, spec.sources.sql.inputs)
    ensure_own_tables(db.engine, reconciliation.KIND, writes)  # the receipts query names the ledger
    verdicts = check_inputs(db.engine, pairs, spec.sources.sql.inputs, path)
    verdicts += check_writes(db.engine, reconciliation.KIND, spec.sources.sql.writes, path)
    assert [v.line() for v in verdicts] == [
        "ok    receipts (mapped)", "ok    transactions (mapped)", "ok    writes.links (mapped)"
    ]  # fmt: skip

    # Receipts 0 and 1 link (sure), 2 goes to review, 3 has no match (too unsure).
    snap, result, written = run_recon(db, spec, {0: 0.95, 1: 0.9, 2: 0.7, 3: 0.1})
    assert sorted(written["linked"]) == [DOCS[0], DOCS[1]]
    assert sorted(written["recorded"]) == [DOCS[2], DOCS[3]]
    links = db.rows("receipt_links", "doc_id")
    assert [(str(r[0]), str(r[1])) for r in links] == [(DOCS[0], TXS[0]), (DOCS[1], TXS[1])]
    assert [float(r[2]) for r in links] == [0.95, 0.9] and all(r[3] is not None for r in links)
    assert all(r[6] is None for r in db.rows("inbox_docs", "doc_uuid"))  # no UPDATE of their rows

    # The ledger is agentjobs' own table, in its own schema on PostgreSQL, with no foreign keys.
    with db.engine.connect() as conn:
        judged = conn.execute(sa.text(f"SELECT record_id, outcome FROM {db.ledger} ORDER BY record_id")).all()
    assert [tuple(r) for r in judged] == [
        (DOCS[0], "linked"), (DOCS[1], "linked"), (DOCS[2], "review"), (DOCS[3], "no_match")
    ]  # fmt: skip
    schema = "agentjobs" if db.pg else None
    assert sa.inspect(db.engine).get_foreign_keys("processed_records", schema=schema) == []

    # A retry of the apply task (same snapshot and result) writes nothing twice.
    again = reconciliation.KIND.apply(snap, result, spec.kind_settings(), db.engine, writes)
    assert again["linked"] == [] and sorted(again["already"]) == sorted(DOCS)
    assert len(db.rows("receipt_links", "doc_id")) == 2

    # A clear and rerun reads again: no judged receipt comes back to the model.
    assert run_recon(db, spec, {})[0].tables["receipts"] == []


def test_a_transaction_linked_meanwhile_is_a_conflict_never_a_second_row(db: UserDb, tmp_path: Path) -> None:
    spec, _ = reconciliation_spec(db, tmp_path, LINK_TABLE.format(at=db.at))
    ensure_own_tables(db.engine, reconciliation.KIND, SpecWrites.of(spec.sources.sql))
    snap = snapshot(db, spec, reconciliation.KIND)
    with db.engine.begin() as conn:  # another writer links transaction 0 after the read
        conn.execute(sa.text(f"INSERT INTO {db.at}receipt_links (doc_id, tx_id) VALUES (:d, :t)"),
                     {"d": DOCS[3], "t": TXS[0]})  # fmt: skip
    answer = {"matches": {DOCS[0]: {"transaction": TXS[0], "confidence": 0.95}}}
    answer["matches"].update({d: {"transaction": TXS[n], "confidence": 0.1} for n, d in enumerate(DOCS) if n})
    result = reconciliation.KIND.render(snap, answer, spec.kind_settings(), spec.title).result
    written = reconciliation.KIND.apply(
        snap, result, spec.kind_settings(), db.engine, SpecWrites.of(spec.sources.sql)
    )
    assert written["conflicts"] == [DOCS[0]] and written["linked"] == []
    assert [(str(r[0]), str(r[1])) for r in db.rows("receipt_links", "doc_id")] == [(DOCS[3], TXS[0])]


def test_the_update_form_writes_the_users_column_while_it_is_null(db: UserDb, tmp_path: Path) -> None:
    update = f"update: {{table: {db.at}inbox_docs, key: doc_uuid, columns: {{transaction_id: matched_tx}}}}"
    spec, _ = reconciliation_spec(db, tmp_path, update)
    _, _, written = run_recon(db, spec, {0: 0.95, 1: 0.9})
    assert sorted(written["linked"]) == [DOCS[0], DOCS[1]]
    matched = {str(r[0]): r[6] and str(r[6]) for r in db.rows("inbox_docs", "doc_uuid")}
    assert matched == {DOCS[0]: TXS[0], DOCS[1]: TXS[1], DOCS[2]: None, DOCS[3]: None}
    assert db.rows("receipt_links", "doc_id") == []


def enrichment_spec(db: UserDb, tmp_path: Path, facts_columns: str) -> tuple[JobSpec, Path]:
    text = f"""\
        dag_id: enrich_acme
        kind: enrichment
        title: Customer enrichment
        start_date: 2026-11-01
        skill: enrichment
        sources:
          sql:
            conn_id: acme_db
            inputs:
              customers:
                sql: >-
                  SELECT c.id, c.legal_name AS name FROM {db.at}clients c WHERE c.workspace = :team_id
                  AND NOT EXISTS (SELECT 1 FROM {db.at}client_facts f WHERE f.client_id = c.id)
                  ORDER BY c.id LIMIT :limit
            writes:
              enrichment:
                table: {db.at}client_facts
                columns: {facts_columns}
        enrichment:
          source_url: https://directory.example.com/companies/
        """
    path = tmp_path / "enrich_acme.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_spec(path), path


FACTS = (
    "{customer_id: client_id, industry: sector, country: country_code, employee_count: headcount, "
    "website: homepage, source: source_url, enriched_at: looked_up_at}"
)


def test_enrichment_writes_a_side_table_row_per_customer_once(db: UserDb, tmp_path: Path) -> None:
    spec, path = enrichment_spec(db, tmp_path, FACTS)
    settings, writes = spec.kind_settings(), SpecWrites.of(spec.sources.sql)
    assert [v.line() for v in check_writes(db.engine, enrichment.KIND, spec.sources.sql.writes, path)] == [
        "ok    writes.enrichment (mapped)"
    ]
    snap = snapshot(db, spec, enrichment.KIND)
    sources = enrichment.KIND.sources(snap, settings)
    assert sorted(sources) == [DOCS[0], DOCS[1]]
    update = {"customer_id": DOCS[0], "fields": {"industry": "Manufacturing", "employee_count": 1200},
              "source": sources[DOCS[0]]}  # fmt: skip
    result = {"path": "enrichment.md", "items": 1, "refused": [], "updates": [update]}
    assert enrichment.KIND.apply(snap, result, settings, db.engine, writes) == {
        "enriched": [DOCS[0]], "already_enriched": []
    }  # fmt: skip
    (row,) = db.rows("client_facts", "client_id")
    assert (str(row[0]), *row[1:6]) == (DOCS[0], "Manufacturing", None, 1200, None, sources[DOCS[0]])
    assert row[6] is not None

    # A retry with other values writes nothing; the next read no longer offers the customer.
    changed = {**result, "updates": [{**update, "fields": {"industry": "Changed"}}]}
    assert enrichment.KIND.apply(snap, changed, settings, db.engine, writes)["already_enriched"] == [DOCS[0]]
    assert len(db.rows("client_facts", "client_id")) == 1
    assert [str(r["id"]) for r in snapshot(db, spec, enrichment.KIND).tables["customers"]] == [DOCS[1]]
    assert [r[2] for r in db.rows("clients", "id")] == ["Globex GmbH", "Initech AG"]  # untouched


def test_a_write_target_naming_a_missing_column_fails_the_check_naming_target_and_column(
    db: UserDb, tmp_path: Path
) -> None:
    spec, path = enrichment_spec(db, tmp_path, FACTS.replace("headcount", "staff"))
    (verdict,) = check_writes(db.engine, enrichment.KIND, spec.sources.sql.writes, path)
    assert verdict.problems and len(verdict.problems) == 1
    problem = verdict.problems[0]
    assert "write target 'enrichment'" in problem and "has no column 'staff'" in problem
    line = path.read_text(encoding="utf-8").splitlines().index("      enrichment:") + 1
    assert f"sources.sql.writes.enrichment in {path}:{line}" in problem  # the spec's line
    spec, path = reconciliation_spec(
        db, tmp_path, f"table: {db.at}receipt_linkz\ncolumns: {{receipt_id: a, transaction_id: b}}"
    )
    (verdict,) = check_writes(db.engine, reconciliation.KIND, spec.sources.sql.writes, path)
    assert "write target 'links'" in verdict.problems[0] and "does not exist" in verdict.problems[0]


BASE = {
    "dag_id": "recon_x", "kind": "reconciliation", "title": "R", "start_date": "2026-11-01",
    "skill": "reconciliation",
}  # fmt: skip


@pytest.mark.parametrize(
    ("sql", "field", "says"),
    [
        ({"writes": {"linkz": {"table": "l", "columns": {"receipt_id": "a"}}}}, "sources.sql.writes.linkz",
         "writes no target 'linkz'"),
        ({"writes": {"links": {"table": "l", "columns": {"receipt_id": "a", "tx": "b"}}}},
         "sources.sql.writes.links", "has no column 'tx'"),
        ({"writes": {"links": {"table": "l", "columns": {"receipt_id": "a"}}}}, "sources.sql.writes.links",
         "must map 'transaction_id'"),
        ({"writes": {"links": {"table": "l; DROP TABLE x", "columns": {"receipt_id": "a"}}}},
         "sources.sql.writes.links.table", "should match pattern"),
        ({"writes": {"links": {"table": "l", "columns": {"receipt_id": "a b", "transaction_id": "c"}}}},
         "sources.sql.writes.links.columns.receipt_id", "should match pattern"),
        # The read mapping takes no write, and a write target no SQL: the two paths never mix.
        ({"inputs": {"receipts": {"table": "l", "columns": {"receipt_id": "a"}}}},
         "sources.sql.inputs.receipts.columns", "Extra inputs are not permitted"),
        ({"writes": {"links": {"sql": "UPDATE receipts SET transaction_id = 1"}}},
         "sources.sql.writes.links.sql", "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_the_spec_refuses_a_write_mapping_the_kind_cannot_use(
    tmp_path: Path, sql: dict[str, Any], field: str, says: str
) -> None:
    import yaml

    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump({**BASE, "sources": {"sql": sql}}), encoding="utf-8")
    with pytest.raises(JobSpecError) as caught:
        load_spec(path)
    assert f"field '{field}'" in str(caught.value) and says in str(caught.value)


def test_a_review_answer_links_into_the_mapped_table_once(db: UserDb, tmp_path: Path) -> None:
    from agentjobs.jobs.kinds.reconcile_write import resolve_review

    spec, _ = reconciliation_spec(db, tmp_path, LINK_TABLE.format(at=db.at))
    writes = SpecWrites.of(spec.sources.sql)
    _, result, written = run_recon(db, spec, {2: 0.7, 3: 0.6})  # both for review: nothing linked yet
    assert sorted(result["review"]) == [DOCS[2], DOCS[3]] and written["linked"] == []
    assert db.rows("receipt_links", "doc_id") == []
    answer = {"approved": {DOCS[2]: TXS[2]}, "rejected": [DOCS[3]]}
    first = resolve_review(db.engine, reviewer="Controller", team_id=TEAM.id, writes=writes, **answer)
    assert first.linked == [DOCS[2]] and first.recorded == [DOCS[3]]
    again = resolve_review(db.engine, reviewer="Controller", team_id=TEAM.id, writes=writes, **answer)
    assert sorted(again.already) == [DOCS[2], DOCS[3]]
    links = db.rows("receipt_links", "doc_id")
    assert [(str(r[0]), str(r[1]), float(r[2])) for r in links] == [(DOCS[2], TXS[2], 0.7)]

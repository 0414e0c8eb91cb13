"""Declared inputs on the sample SQLite database: a mapping written in YAML only reads a
differently named schema into the same snapshot; the spec refuses mappings the kind cannot
use; the contract check names each mismatch; a bad row fails its own team only."""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.jobs.input_check import check_inputs, kind_pairs, source_pairs
from agentjobs.jobs.inputs import RowContractError, team_queries
from agentjobs.jobs.kinds.registry import kind
from agentjobs.jobs.kinds.snapshots import team_snapshot
from agentjobs.jobs.spec import JobSpecError, load_spec
from agentjobs.jobs.team_run import contract_error_path, load_snapshot, snapshot_path
from agentjobs.sources.sql import read_tables, read_teams

REPO = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 11, 29, 8, tzinfo=UTC)  # Sunday 09:00 in Berlin: weekly insights are due

# The company's own names: a ledger table with other column names, teams behind a view.
ACME_SCHEMA = """
CREATE TABLE acme_ledger AS SELECT id AS tx_id, team_id AS workspace, occurred_at AS booked,
  kind AS direction, category AS cat, amount_cents AS cents, currency AS ccy FROM transactions;
CREATE VIEW acme_workspaces AS SELECT id, name, timezone, currency, slack_channel, email_list,
  'extra' AS plan FROM teams;
"""
ACME_TX_SQL = (
    "SELECT tx_id AS id, booked AS occurred_at, direction AS kind, cat AS category, "
    "cents AS amount_cents, ccy AS currency FROM acme_ledger "
    "WHERE workspace = :team_id AND booked >= :start AND booked < :end ORDER BY booked, tx_id"
)


def write_spec(folder: Path, inputs: dict[str, Any], kind_name: str = "weekly_insights") -> Path:
    import yaml

    data = yaml.safe_load(
        (REPO / "include" / "jobs" / f"{kind_name.replace('_', '-')}.yaml").read_text(encoding="utf-8")
    )
    data["sources"] = {"sql": {"conn_id": "acme_db", "inputs": inputs}}
    path = folder / "acme.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def acme_db(sample_db: tuple[Path, Any], tmp_path: Path) -> sa.Engine:
    path = tmp_path / "acme.db"
    shutil.copy(sample_db[0], path)
    with sqlite3.connect(path) as conn:
        conn.executescript(ACME_SCHEMA)
    engine = sa.create_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def test_a_yaml_mapping_onto_other_names_reads_the_same_snapshot(acme_db: sa.Engine, tmp_path: Path):
    spec = load_spec(
        write_spec(tmp_path, {"transactions": {"sql": ACME_TX_SQL}, "teams": {"table": "acme_workspaces"}})
    )
    mapping = spec.sources.sql.inputs
    insights = kind("weekly_insights")
    settings = spec.kind_settings()
    mapped_teams = read_teams(acme_db, team_queries(mapping))
    assert [t.id for t, _ in mapped_teams] == [t.id for t, _ in read_teams(acme_db)]
    team, members = mapped_teams[0]

    def read(queries: Any) -> Any:
        return read_tables(acme_db, queries)

    ours = team_snapshot(insights, settings, team, members, WHEN, read, mapping)
    sample = team_snapshot(insights, settings, team, members, WHEN, read)
    assert ours.tables["transactions"], "the week has transactions"
    assert ours.model_dump() == sample.model_dump()
    verdicts = check_inputs(acme_db, source_pairs(mapping), mapping)
    verdicts += check_inputs(acme_db, kind_pairs(insights, settings, team, members, WHEN, mapping), mapping)
    assert [(v.name, v.mapped, v.problems) for v in verdicts] == [
        ("teams", True, []),
        ("users", False, []),
        ("transactions", True, []),
    ]


def test_the_spec_refuses_an_input_the_kind_does_not_read(tmp_path: Path):
    path = write_spec(tmp_path, {"payments": {"table": "acme_payments"}})
    with pytest.raises(JobSpecError) as error:
        load_spec(path)
    message = str(error.value)
    assert str(path) in message and "sources.sql.inputs.payments" in message
    assert "'payments' is not one kind 'weekly_insights' reads" in message
    assert "teams, transactions, users" in message


def test_the_spec_refuses_a_bind_the_input_does_not_give(tmp_path: Path):
    sql = "SELECT * FROM acme_ledger WHERE workspace = :team_id AND booked >= :week_start"
    path = write_spec(tmp_path, {"transactions": {"sql": sql}})
    with pytest.raises(JobSpecError) as error:
        load_spec(path)
    message = str(error.value)
    assert str(path) in message and "'transactions'" in message
    assert "uses :week_start" in message and "its binds are :team_id, :start, :end" in message


def test_the_spec_wants_either_a_query_or_a_table(tmp_path: Path):
    with pytest.raises(JobSpecError, match="exactly one of `sql`"):
        load_spec(write_spec(tmp_path, {"transactions": {"sql": ACME_TX_SQL, "table": "acme_ledger"}}))
    with pytest.raises(JobSpecError, match=r"sources\.sql\.inputs\.transactions\.table"):
        load_spec(write_spec(tmp_path, {"transactions": {"table": "ledger; DROP TABLE teams"}}))


def test_a_bad_row_fails_its_team_only(acme_db: sa.Engine, tmp_path: Path):
    insights = kind("weekly_insights")
    settings = insights.settings_model.model_validate({})
    teams = read_teams(acme_db)[:2]
    bad_team = teams[0][0].id
    with acme_db.begin() as conn:
        bad_id = conn.execute(
            sa.text(
                "SELECT id FROM transactions WHERE team_id = :t AND occurred_at >= '2026-11-23' "
                "ORDER BY id LIMIT 1"
            ),
            {"t": bad_team},
        ).scalar_one()
        conn.execute(sa.text("UPDATE transactions SET currency = 'EUROS' WHERE id = :id"), {"id": bad_id})

    def read(queries: Any) -> Any:
        return read_tables(acme_db, queries)

    with pytest.raises(RowContractError) as error:
        team_snapshot(insights, settings, *teams[0], WHEN, read)
    assert (
        f"team {bad_team!r}, input 'transactions', row id {bad_id!r}, column 'currency': 'EUROS', "
        "not an ISO 4217 currency code" in str(error.value)
    )
    other = team_snapshot(insights, settings, *teams[1], WHEN, read)
    assert other.tables["transactions"]
    # The fetch leaves the reason where the snapshot would be: the team's own tasks fail with it.
    work = tmp_path / "team"
    contract_error_path(work).parent.mkdir(parents=True)
    contract_error_path(work).write_text(str(error.value), encoding="utf-8")
    with pytest.raises(RowContractError, match="'EUROS'"):
        load_snapshot(work)
    assert not snapshot_path(work).exists()


def test_a_null_where_the_contract_forbids_it_is_named_and_an_unread_receipt_passes(acme_db: sa.Engine):
    from agentjobs.jobs.spec import InputMapping

    compliance = kind("compliance_report")
    settings = compliance.settings_model.model_validate({})
    team, members = read_teams(acme_db)[0]
    when = datetime(2026, 11, 1, 8, tzinfo=UTC)
    with acme_db.begin() as conn:  # what failed imports leave: no amount on a receipt, a transaction
        conn.exec_driver_sql("CREATE TABLE receipts_import AS SELECT * FROM receipts")
        conn.exec_driver_sql("CREATE TABLE transactions_import AS SELECT * FROM transactions")
    # A receipt OCR could not read (no amount, no currency) is one the report must list: allowed.
    receipts = textwrap.dedent(
        """\
        SELECT r.id, r.received_on, NULL AS amount_cents, NULL AS currency, NULL AS vendor_name
        FROM receipts_import r WHERE r.team_id = :team_id AND r.received_on >= :first_day
        AND r.received_on <= :last_day AND r.transaction_id IS NULL ORDER BY r.received_on, r.id"""
    )
    mapping = {"unmatched": InputMapping(sql=receipts)}

    def read(queries: Any) -> Any:
        return read_tables(acme_db, queries)

    snapshot = team_snapshot(compliance, settings, team, members, when, read, mapping)
    assert snapshot.tables["unmatched"], "the month has unmatched receipts"
    assert {r["amount_cents"] for r in snapshot.tables["unmatched"]} == {None}
    # A transaction without an amount is not: the team fails, naming the column.
    transactions = textwrap.dedent(
        """\
        SELECT t.id, t.occurred_at, t.kind, t.category, NULL AS amount_cents, t.currency
        FROM transactions_import t WHERE t.team_id = :team_id AND t.occurred_at >= :start
        AND t.occurred_at < :end ORDER BY t.occurred_at, t.id"""
    )
    mapping = {"transactions": InputMapping(sql=transactions)}
    with pytest.raises(RowContractError, match="column 'amount_cents': NULL, but the column may not be NULL"):
        team_snapshot(compliance, settings, team, members, when, read, mapping)


def test_every_kind_declares_the_binds_its_queries_give(acme_db: sa.Engine):
    """A declared input is what the kind reads: same names as its queries, same binds."""
    from agentjobs.jobs.inputs import kind_inputs

    team, members = read_teams(acme_db)[0]
    for name in (
        "weekly_insights",
        "anomaly_flags",
        "overdue_reminders",
        "batch_notifications",
        "compliance_report",
        "reconciliation",
    ):
        k = kind(name)
        settings = k.settings_model.model_validate({})
        queries = k.queries(team, k.period(team, WHEN, settings), settings)
        inputs = {i.name: i for i in kind_inputs(k)}
        assert set(inputs) == set(queries), name
        for input_name, query in queries.items():
            assert set(query.params) == set(inputs[input_name].binds), (name, input_name)
        verdicts = check_inputs(acme_db, kind_pairs(k, settings, team, members, WHEN, {}), {})
        assert all(not v.problems for v in verdicts), (name, [v.problems for v in verdicts])


def test_a_team_row_whose_time_zone_is_the_hosts_own_is_named_as_a_contract_problem():
    """`localtime` loads on any Linux host, but names each host's zone: the scheduler and a worker
    would each see another day for the team."""
    from agentjobs.jobs.inputs import TEAMS_INPUT, row_problems

    row = {"id": "t1", "name": "Berlin", "timezone": "localtime", "currency": "EUR"}
    row |= {"slack_channel": None, "email_list": None}
    (problem,) = row_problems(TEAMS_INPUT, [row], "t1")
    assert "'localtime', this machine's own zone, which differs between hosts" in problem

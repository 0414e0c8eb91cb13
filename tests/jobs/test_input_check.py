"""The contract check (jobs/input_check.py): a mapped query's columns and types against its input's
contract, before the model is paid; each mismatch names the input, the column, what was expected and
found, and the spec line to fix. On the sample SQLite database (sampled values) and on PostgreSQL
(result type OIDs, so an empty result is still checked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from agentjobs.jobs.input_check import check_inputs, kind_pairs
from agentjobs.jobs.kinds.registry import kind
from agentjobs.jobs.spec import InputMapping, load_spec
from agentjobs.sources.sql import read_teams
from agentjobs.sources.teams import Query
from tests.jobs.test_inputs import ACME_TX_SQL, WHEN, write_spec
from tests.jobs.test_inputs_postgres import END, EVENTS, START


def test_the_contract_check_names_a_missing_column_and_a_wrong_type(acme_db: sa.Engine, tmp_path: Path):
    missing = ACME_TX_SQL.replace("ccy AS currency", "ccy AS currency_code")
    wrong = ACME_TX_SQL.replace("cents AS amount_cents", "CAST(cents AS TEXT) || ' EUR' AS amount_cents")
    for sql, expected in [
        (missing, "column 'currency' (text) is missing"),
        (wrong, "column 'amount_cents' should be integer, found text"),
    ]:
        path = write_spec(tmp_path, {"transactions": {"sql": sql}})
        spec = load_spec(path)
        mapping = spec.sources.sql.inputs
        team, members = read_teams(acme_db)[0]
        pairs = kind_pairs(kind("weekly_insights"), spec.kind_settings(), team, members, WHEN, mapping)
        (verdict,) = check_inputs(acme_db, pairs, mapping, path)
        assert verdict.problems and expected in verdict.problems[0]
        line = path.read_text(encoding="utf-8").splitlines().index("    inputs:") + 2
        assert f"fix sources.sql.inputs.transactions in {path}:{line}" in verdict.problems[0]


def test_result_types_are_checked_with_no_rows(pg_schema: tuple[sa.Engine, Any]):
    engine, _ = pg_schema
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ev (id bigint, at timestamptz, amount numeric(12, 3), note text)")
    params = {"start": START, "end": END}
    good = Query("SELECT id, at, amount FROM ev WHERE at >= :start AND at < :end", params)
    wrong = Query("SELECT id, CAST(at AS date) AS at, note AS amount FROM ev WHERE at >= :start", params)
    (ok,) = check_inputs(engine, [(EVENTS, good)], {})
    assert ok.problems == []
    (bad,) = check_inputs(engine, [(EVENTS, wrong)], {"events": InputMapping(sql=wrong.sql)})
    assert len(bad.problems) == 2
    assert "column 'at' should be timestamp, found date" in bad.problems[0]
    assert "column 'amount' should be decimal, found text" in bad.problems[1]
    assert bad.line().startswith("FAIL  events (mapped): ")

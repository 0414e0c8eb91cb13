"""weekly_insights keeps what it sent in the business database too, on SQLite and PostgreSQL, with
dag.test(): a delivered week has one row per insight (agentjobs' own table by default, or the
user's own table mapped in YAML), a rerun adds none, and a mapping naming a column the user's
table lacks fails the run before any model call."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.business import BUSINESS_CONN, serving_instant, shipped_spec, team_states
from tests.jobs.specs import sqlite_ledger
from tests.scenarios.test_reconciliation import forget_runs, writable_db

__all__ = ["writable_db"]  # the fixture: a copy of the session's sample, on SQLite and PostgreSQL
pytestmark = pytest.mark.airflow


def top_three(request):
    prompt = request.body["messages"][-1]["content"]
    metrics = re.findall(r"^- metric: (\S+) \|", prompt, flags=re.M)[:3]
    return reply(json.dumps({"findings": [{"metric": m, "comment": "Worth a look"} for m in metrics]}))


def _point_at(writable_db: str, monkeypatch) -> tuple[sa.Engine, bool]:
    url = sa.engine.make_url(writable_db)
    pg = url.get_backend_name() != "sqlite"
    conn = f"postgres://postgres@127.0.0.1:5432/{url.database}" if pg else None
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}",
        conn or json.dumps({"conn_type": "sqlite", "host": url.database}),
    )
    return sa.create_engine(writable_db), pg


def _spec(llm_conn, smtp_server, monkeypatch, tmp_path, sql: dict | None = None):
    delivery = {"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": True}
    return shipped_spec(
        "weekly-insights.yaml",
        llm_conn,
        BUSINESS_CONN,
        sources={"sql": {"conn_id": BUSINESS_CONN, **(sql or {})}},
        team_delivery=delivery,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )


def _planted(business_db):
    last = business_db.truth.last_day
    return next(c for c in business_db.truth.weekly_changes if c.week_end == last)


def _rows(engine: sa.Engine, table: str, columns: str, where: str = "") -> list[tuple]:
    with engine.connect() as conn:
        query = f"SELECT {columns} FROM {table} {where} ORDER BY 1, 2, 3"
        return [tuple(r) for r in conn.execute(sa.text(query))]


def _own_rows(engine: sa.Engine, pg: bool, job: str) -> list[tuple]:
    """This job's rows of agentjobs' own table (the session's sample may hold other tests' jobs')."""
    table = "agentjobs.insight_records" if pg else "insight_records"
    columns = "job, team_id, week, position, metric, text, numbers, sha256"
    return _rows(engine, table, columns, f"WHERE job = '{job}'")


def test_a_delivered_week_is_recorded_once_in_agentjobs_own_table(
    llm_conn, writable_db, business_db, model_server, smtp_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    engine, pg = _point_at(writable_db, monkeypatch)
    spec = _spec(llm_conn, smtp_server, monkeypatch, tmp_path)
    change = _planted(business_db)
    when = serving_instant(spec, change.team_id, change.week_end)
    model_server.default_step = respond(top_three)
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=when)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    assert smtp_server.messages, "the team's week was not mailed"

    validated = xcom(run, "team.validate", map_index=0)
    rows = _own_rows(engine, pg, spec.dag_id)
    # One row per bullet sent, in order, each with the text delivered and the artifact's hash.
    assert [r[5] for r in rows] == validated["result"]["bullets"]
    assert {r[:3] for r in rows} == {(spec.dag_id, change.team_id, change.week_end.isoformat())}
    assert [r[3] for r in rows] == list(range(1, len(rows) + 1))
    sha = hashlib.sha256(Path(validated["artifact"]).read_bytes()).hexdigest()
    assert {r[7] for r in rows} == {sha}
    # The renderer's bullets are about one metric each: its numbers are the two weeks' values.
    category = next(r for r in rows if r[4] == f"spend:{change.category}")
    numbers = json.loads(category[6])
    assert numbers["this_week"] - numbers["previous_week"] == numbers["change"] != 0
    if pg:
        assert sa.inspect(engine).get_foreign_keys("insight_records", schema="agentjobs") == []

    # A clear of the run (or a backfill of that week): nothing sent, nothing recorded again.
    mailed = len(smtp_server.messages)
    forget_runs(dag)
    again = run_dag(dag, logical_date=when, run_conf={"force_redeliver": True})
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert len(smtp_server.messages) > mailed  # force_redeliver did send again ...
    assert _own_rows(engine, pg, spec.dag_id) == rows
    engine.dispose()


def test_a_mapped_table_of_the_users_receives_the_records(
    llm_conn, writable_db, business_db, model_server, smtp_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    engine, pg = _point_at(writable_db, monkeypatch)
    at = "reporting." if pg else ""
    with engine.begin() as conn:
        if pg:
            conn.execute(sa.text("CREATE SCHEMA reporting"))
        conn.execute(
            sa.text(
                f"CREATE TABLE {at}sent_insights (team TEXT NOT NULL, week_ending TEXT NOT NULL, "
                "body TEXT NOT NULL, kpi TEXT, figures TEXT, digest TEXT, sent TIMESTAMP)"
            )
        )
    columns = {
        "team_id": "team",
        "week": "week_ending",
        "text": "body",
        "metric": "kpi",
        "numbers": "figures",
        "sha256": "digest",
        "sent_at": "sent",
    }
    spec = _spec(
        llm_conn,
        smtp_server,
        monkeypatch,
        tmp_path,
        {"writes": {"insight_records": {"table": f"{at}sent_insights", "columns": columns}}},
    )
    change = _planted(business_db)
    when = serving_instant(spec, change.team_id, change.week_end)
    model_server.default_step = respond(top_three)
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=when)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    bullets = xcom(run, "team.validate", map_index=0)["result"]["bullets"]
    rows = _rows(engine, f"{at}sent_insights", "team, week_ending, body, sent")
    assert sorted(r[2] for r in rows) == sorted(bullets) and bullets
    assert {r[:2] for r in rows} == {(change.team_id, change.week_end.isoformat())}
    assert all(r[3] is not None for r in rows)
    # Agentjobs' own table is not used when the spec maps the records elsewhere.
    own = sa.inspect(engine).get_table_names(schema="agentjobs" if pg else None)
    assert "insight_records" not in own or _own_rows(engine, pg, spec.dag_id) == []

    forget_runs(dag)
    again = run_dag(dag, logical_date=when, run_conf={"refetch": True})
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert _rows(engine, f"{at}sent_insights", "team, week_ending, body, sent") == rows
    engine.dispose()


def test_a_mapped_column_the_table_lacks_fails_before_any_model_call(
    llm_conn, writable_db, business_db, model_server, smtp_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    engine, _ = _point_at(writable_db, monkeypatch)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE sent_insights (team TEXT, week_ending TEXT, body TEXT)"))
    columns = {"team_id": "team", "week": "week_ending", "text": "bodytext"}
    spec = _spec(
        llm_conn,
        smtp_server,
        monkeypatch,
        tmp_path,
        {"writes": {"insight_records": {"table": "sent_insights", "columns": columns}}},
    )
    change = _planted(business_db)
    run = run_dag(build_dag(spec), logical_date=serving_instant(spec, change.team_id, change.week_end))
    states = team_states(run)
    assert states[("fetch", -1)] == "failed", states
    assert model_server.calls == 0 and smtp_server.messages == []
    engine.dispose()

"""invoice_reconciliation end to end with dag.test() on Ledgerly (PostgreSQL, a schema of the
test's own, the shipped Ledgerly spec: YAML only): the allocations the run writes are true ones,
rows of payment_allocations with the payment's amount; a clear asks, writes and sends nothing
again; with the review on, a person approves one proposal of the review band and only that one
is allocated, the rest closed as rejected."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.business.ledgerly.jobs import ledgerly_spec
from tests.fakes.model_server import reply, respond
from tests.jobs.business import team_states
from tests.jobs.specs import sqlite_ledger
from tests.scenarios.test_reconciliation import answer_review_when_asked, forget_runs

pytestmark = pytest.mark.airflow
CONN = "ledgerly_test"


def answering(confidence: float):
    """The scripted model: every payment's top candidate invoice at `confidence`."""

    def step(request):
        matches = request.body["response_format"]["json_schema"]["schema"]["properties"]["matches"]
        answer = {
            pid: {
                "invoice": matches["properties"][pid]["properties"]["invoice"]["enum"][0],
                "confidence": confidence,
            }
            for pid in matches["required"]
        }
        return reply(json.dumps({"matches": answer}), prompt_tokens=900, completion_tokens=200)

    return step


@pytest.fixture
def job(ledgerly_db, llm_conn, smtp_server, monkeypatch, tmp_path):
    engine, schema, own = ledgerly_db
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", "postgres://postgres@127.0.0.1:5432/test")
    spec = ledgerly_spec(
        "invoice-reconciliation.yaml",
        schema,
        own,
        dag_id=f"ledgerly_invoices_{own[-10:]}",
        llm_conn_id=llm_conn,
        retries=0,
        pool=None,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False},
    )
    data = spec.model_dump()
    data["sources"]["sql"]["conn_id"] = CONN
    return type(spec).model_validate(data), engine, schema, own


def busiest(spec: Any, engine: sa.Engine, day: date) -> tuple[str, Any]:
    """The workspace with the most payments that have a candidate, and its serving instant."""
    from agentjobs.cli.run import serving_instant
    from agentjobs.jobs.inputs import mapped, team_queries
    from agentjobs.jobs.kinds.base import PeriodRef, TeamSnapshot
    from agentjobs.jobs.kinds.invoice_reconciliation import KIND, Work
    from agentjobs.jobs.own_tables import ensure_ledger
    from agentjobs.sources.sql import read_tables, read_teams

    sql, settings = spec.sources.sql, spec.kind_settings()
    ensure_ledger(engine, sql.own_schema)
    counted = []
    for team, _ in read_teams(engine, team_queries(sql.inputs)):
        when = serving_instant(KIND, settings, team, day)
        period = KIND.period(team, when, settings)
        tables = read_tables(engine, mapped(KIND.inputs, KIND.queries(team, period, settings), sql.inputs))
        snap = TeamSnapshot(kind=KIND.name, team=team, period=PeriodRef.of(period), tables=tables)
        counted.append((len(Work(snap, settings).batch), team.id, when))
    _, team_id, when = max(counted)
    return team_id, when


def book(
    engine: sa.Engine, schema: str, own: str
) -> tuple[set[tuple[str, str, int]], dict[str, tuple[str, str]]]:
    with engine.connect() as conn:
        allocations = {
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT payment_id::text, invoice_id::text, amount_minor "
                    f'FROM "{schema}".payment_allocations'
                )
            )
        }
        ledger = {
            rid: (outcome, iid)
            for rid, outcome, iid in conn.execute(
                sa.text(f'SELECT record_id, outcome, transaction_id FROM "{own}".processed_records')
            )
        }
    return allocations, ledger


def test_true_allocations_are_written_once_as_rows_of_the_users_table(
    job, ledgerly, model_server, smtp_server
):
    from agentjobs.operators.factory import build_dag

    spec, engine, schema, own = job
    truth = ledgerly[1]
    true_pairs = {(m.payment_id, m.invoice_id): m.amount_minor for m in truth.payment_matches}
    team_id, when = busiest(spec, engine, truth.last_day)
    before, _ = book(engine, schema, own)
    model_server.default_step = respond(answering(0.9))
    dag = build_dag(spec)

    run = run_dag(dag, logical_date=when, run_conf={"teams": [team_id]})
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    result = xcom(run, "team.validate", map_index=0)["result"]
    allocations, ledger = book(engine, schema, own)
    new = allocations - before
    assert new and {(p, i) for p, i, _ in new} == {
        (p, link["invoice"]) for p, link in result["links"].items()
    }
    assert all(true_pairs.get((p, i)) == amount for p, i, amount in new), new  # true, with the paid amount
    assert set(ledger) == {*result["links"], *result["review"], *result["no_match"]}
    assert {ledger[p] for p, _, _ in new} == {("linked", i) for _, i, _ in new}
    assert model_server.calls == 1 and len(smtp_server.messages) == 1

    # A clear of the run: nothing asked, written or sent again.
    forget_runs(dag)
    run = run_dag(dag, logical_date=when, run_conf={"teams": [team_id]})
    assert set(team_states(run).values()) == {"success"}
    assert book(engine, schema, own) == (allocations, ledger)
    assert model_server.calls == 1 and len(smtp_server.messages) == 1


def test_with_review_on_a_person_approves_one_proposal_and_only_it_is_allocated(job, ledgerly, model_server):
    from agentjobs.operators.factory import build_dag

    spec, engine, schema, own = job
    truth = ledgerly[1]
    spec = spec.with_kind_section({**spec.kind_section(), "review": {"enabled": True, "timeout_minutes": 30}})
    team_id, when = busiest(spec, engine, truth.last_day)
    before, _ = book(engine, schema, own)
    model_server.default_step = respond(answering(0.7))  # the review band: the run allocates nothing
    dag = build_dag(spec)
    answered: list = []
    thread = answer_review_when_asked(dag.dag_id, lambda options: options[:1], answered)
    run = run_dag(dag, logical_date=when, run_conf={"teams": [team_id]})
    thread.join(timeout=5)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    ((options, chosen),) = answered
    result = xcom(run, "team.validate", map_index=0)["result"]
    assert result["links"] == {} and len(options) == len(result["review"]) >= 2
    (approved,) = [o.split(" → ")[0] for o in chosen]
    allocations, ledger = book(engine, schema, own)
    invoice = result["review"][approved]["invoice"]
    amount = result["review"][approved]["amount_cents"]
    assert allocations - before == {(approved, invoice, amount)}
    assert {p: ledger[p][0] for p in result["review"]} == {
        p: "linked" if p == approved else "rejected" for p in result["review"]
    }
    assert xcom(run, "team.review", map_index=0)["approved"] == [approved]

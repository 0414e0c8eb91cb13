"""enrichment on the Ledgerly schema with YAML only (business/ledgerly/jobs/enrichment.yaml), end to
end with dag.test() on PostgreSQL and a loopback model and directory: the workspace's customers
the truth says to enrich get one customer_facts row each, the customers table and the facts
written before stay as they were, and a rerun writes nothing again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.business.ledgerly.conftest import ledgerly
from tests.fakes.directory import record
from tests.jobs.business import BUSINESS_CONN, team_states
from tests.jobs.specs import sqlite_ledger
from tests.postgres import fresh_database
from tests.scenarios.test_enrichment import forget_runs, map_the_keys

__all__ = ["ledgerly"]  # the session's generated Ledgerly rows and truth
pytestmark = pytest.mark.airflow
SPEC = Path(__file__).parents[2] / "src" / "agentjobs" / "business" / "ledgerly" / "jobs" / "enrichment.yaml"
DAY = date(2026, 11, 30)


@pytest.fixture
def ledgerly_db(ledgerly, monkeypatch) -> Iterator[sa.Engine]:
    """A database of its own holding the `ledgerly` schema (this job writes to it)."""
    from agentjobs.business.ledgerly.load import load

    with fresh_database("agentjobs_ledgerly") as name:
        url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        engine = sa.create_engine(url)
        load(engine, ledgerly[0], "ledgerly")
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}", f"postgres://postgres@127.0.0.1:5432/{name}"
        )
        try:
            yield engine
        finally:
            engine.dispose()


def _spec(llm_conn: str, directory_url: str, smtp_conn: str, monkeypatch, tmp_path) -> Any:
    import uuid

    from agentjobs.jobs.spec import JobSpec, load_spec

    data = load_spec(SPEC).model_dump()
    data["sources"]["sql"]["conn_id"] = BUSINESS_CONN
    data["enrichment"].update(source_url=directory_url, allow_urls=[directory_url], batch_size=200)
    data.update(
        dag_id=f"ledgerly_enrichment_{uuid.uuid4().hex[:8]}",
        llm_conn_id=llm_conn,
        retries=0,
        pool=None,
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_conn, "member_preview": False},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    return JobSpec.model_validate(data)


def _table(engine: sa.Engine, name: str) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM ledgerly.{name} ORDER BY 1"))
        return {str(r[0]): tuple(r) for r in rows}


def _facts(engine: sa.Engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT customer_id::text, industry, country, employee_count, website, source_url "
                "FROM ledgerly.customer_facts"
            )
        )
        return {r[0]: tuple(r[1:]) for r in rows}


def _facts_for(name: str) -> dict[str, Any]:
    slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20] or "company"
    return {
        "industry": "Wholesale",
        "country": "de",
        "employees": len(name),
        "website": f"https://{slug}.example",
    }


def test_ledgerly_customers_are_enriched_into_customer_facts_once(
    llm_conn, ledgerly, ledgerly_db, company_directory, model_server, smtp_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag
    from tests.fakes.model_server import respond

    rows, truth = ledgerly
    workspace = rows["workspaces"][0]
    team_id = str(workspace["id"])
    mine = {str(c["id"]): c["name"] for c in rows["customers"] if str(c["workspace_id"]) == team_id}
    to_enrich = sorted(set(truth.customers_to_enrich) & set(mine))
    assert to_enrich, "the truth names no customer of the workspace to enrich"
    for customer_id in mine:
        company_directory.answers[mine[customer_id]] = record(**_facts_for(mine[customer_id]))
    customers_before, facts_before = _table(ledgerly_db, "customers"), _facts(ledgerly_db)
    assert set(facts_before) & set(mine) == set(mine) - set(to_enrich)  # the truth matches the data

    spec = _spec(llm_conn, company_directory.url, smtp_server.conn_id, monkeypatch, tmp_path)
    local = datetime.combine(
        DAY, time(spec.kind_settings().local_hour), tzinfo=ZoneInfo(workspace["timezone"])
    )
    when = local.astimezone(UTC)
    model_server.default_step = respond(map_the_keys)
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=when, run_conf={"teams": [team_id]})
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    assert sorted(xcom(run, "team.apply", map_index=0)["enriched"]) == to_enrich

    facts = _facts(ledgerly_db)
    written = {cid: facts[cid] for cid in set(facts) - set(facts_before)}
    assert sorted(written) == to_enrich
    for customer_id, (industry, country, employees, website, source) in written.items():
        planted = _facts_for(mine[customer_id])
        assert (industry, country, employees, website) == (
            planted["industry"], "DE", planted["employees"], planted["website"]
        )  # fmt: skip
        assert source.startswith(company_directory.url)
    assert {cid: facts[cid] for cid in facts_before} == facts_before  # facts written before: kept
    assert _table(ledgerly_db, "customers") == customers_before  # never an UPDATE of customers
    assert model_server.calls == 1

    # A clear of the run asking the model again: nothing written twice, nothing changed.
    forget_runs(dag)
    again = run_dag(dag, logical_date=when, run_conf={"teams": [team_id], "resummarize": True})
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert xcom(again, "team.apply", map_index=0)["enriched"] == []
    assert _facts(ledgerly_db) == facts

    # The next day's run reads no customer of the workspace: every one has its facts now.
    nxt = run_dag(dag, logical_date=when + timedelta(days=1), run_conf={"teams": [team_id]})
    assert set(team_states(nxt).values()) == {"success"}, team_states(nxt)
    snapshot = Path(xcom(nxt, "team.validate", map_index=0)["artifact"]).parent / "sources" / "sql.json"
    assert json.loads(snapshot.read_text())["tables"]["customers"] == []
    assert _facts(ledgerly_db) == facts and _table(ledgerly_db, "customers") == customers_before

"""enrichment end to end with dag.test(), on SQLite and PostgreSQL: customers enriched from the
allowlisted directory once (a clear with other answers and the next day's run write nothing
again), refused answers reported, and in loop mode the real http_get and write tool refusing a
URL off the allowlist and a write to another column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.directory import record
from tests.fakes.model_server import reply, respond, tool_calls
from tests.jobs.business import BUSINESS_CONN, shipped_spec, team_states
from tests.jobs.kinds.test_enrichment import (  # noqa: F401 (a fixture)
    CUSTOMERS,
    WHEN,
    customers,
    enrichment_db,
    plant_answers,
)
from tests.jobs.specs import sqlite_ledger

pytestmark = pytest.mark.airflow


def map_the_keys(request):
    """The first key offered for each column the model is asked about."""
    asked = request.body["response_format"]["json_schema"]["schema"]["properties"]["mapping"]["properties"]
    mapping = {column: pick["enum"][0] for column, pick in asked.items()}
    return reply(json.dumps({"mapping": mapping}), prompt_tokens=200, completion_tokens=30)


@pytest.fixture
def enrich(llm_conn, enrichment_db, company_directory, slack_server, monkeypatch, tmp_path):  # noqa: F811
    url = sa.engine.make_url(enrichment_db)
    if url.get_backend_name() == "sqlite":
        conn = json.dumps({"conn_type": "sqlite", "host": url.database})
    else:
        conn = f"postgres://postgres@127.0.0.1:5432/{url.database}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}", conn)
    plant_answers(company_directory)
    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": None, "member_preview": False}

    def spec(**update):
        return shipped_spec(
            "enrichment.yaml",
            llm_conn,
            BUSINESS_CONN,
            team_delivery=delivery,
            enrichment={"source_url": company_directory.url},
            ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
            **update,
        )

    return spec, sa.create_engine(enrichment_db)


def slack_posts(slack_server) -> int:
    server = slack_server.server
    return len(server.calls("/api/chat.postMessage")) + len(server.calls("/api/files.completeUploadExternal"))


def forget_runs(dag) -> None:
    """A clear of the run: the DagRun goes, the files, the ledger and the database stay."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()


def test_customers_are_enriched_once_and_refused_answers_are_reported(
    enrich, company_directory, model_server, slack_server
):
    from datetime import timedelta

    from agentjobs.operators.factory import build_dag

    make_spec, engine = enrich
    dag = build_dag(make_spec())
    model_server.default_step = respond(map_the_keys)
    run = run_dag(dag, logical_date=WHEN)
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    assert ("team.apply", 0) in states

    rows = customers(engine)
    good = rows["c-good"]
    assert (good["industry"], good["country"], good["employee_count"], good["website"]) == (
        "Manufacturing", "DE", 1200, "https://globex.example"
    )  # fmt: skip
    assert good["enrichment_source"] == company_directory.url + "Globex%20GmbH"
    assert good["enriched_at"] is not None and good["name"] == "Globex GmbH"
    hostile = rows["c-hostile"]
    assert hostile["industry"].startswith("<script>") and hostile["website"] is None  # data, kept inert
    for refused in ("c-big", "c-html", "c-missing"):
        assert rows[refused]["enriched_at"] is None and rows[refused]["industry"] is None
    assert rows["c-done"]["industry"] == "Old"
    assert not any("Hooli" in path for path in company_directory.requests)

    text = Path(xcom(run, "team.validate", map_index=0)["artifact"]).read_text()
    assert "2 of 5 customers to enrich" in text
    assert "larger than the 65536-byte cap" in text and "content type is 'text/html'" in text
    assert "HTTP 404" in text and "<script" not in text
    assert xcom(run, "team.apply", map_index=0)["enriched"] == ["c-good", "c-hostile"]
    assert model_server.calls == 1 and slack_posts(slack_server) == 1
    first = customers(engine)

    # A clear of the run asking the model again, while the directory now says otherwise: the
    # same snapshot stages new values, and the write leaves every enriched record as it was.
    company_directory.answers["Globex GmbH"] = record(industry="Changed", country="FR", employees=1)
    forget_runs(dag)
    run = run_dag(dag, logical_date=WHEN, run_conf={"resummarize": True})
    assert set(team_states(run).values()) == {"success"}
    assert xcom(run, "team.apply", map_index=0) == {
        "team": "team-x", "period": "2026-11-30", "enriched": [], "already_enriched": ["c-good", "c-hostile"]
    }  # fmt: skip
    assert customers(engine) == first
    assert slack_posts(slack_server) == 1  # delivered once

    # The next day's run (a backfill of it alike) reads only the customers still not enriched.
    run = run_dag(dag, logical_date=WHEN + timedelta(days=1))
    assert set(team_states(run).values()) == {"success"}
    snapshot = json.loads(
        (
            Path(xcom(run, "team.validate", map_index=0)["artifact"]).parent / "sources" / "sql.json"
        ).read_text()
    )
    assert [row["id"] for row in snapshot["tables"]["customers"]] == ["c-big", "c-html", "c-missing"]
    assert customers(engine) == first


def test_in_loop_mode_http_get_and_the_write_tool_refuse_what_the_rules_refuse(
    enrich, company_directory, model_server
):
    from agentjobs.operators.factory import build_dag

    make_spec, engine = enrich
    base = company_directory.url
    off_allowlist = base.removesuffix("companies/") + "admin/export"
    model_server.script(
        tool_calls(
            [
                ("http_get", {"url": base + "Globex%20GmbH"}),
                ("http_get", {"url": off_allowlist}),
                ("http_get", {"url": base + "Soylent%20Corp"}),
                ("http_get", {"url": base + "Tyrell%20Corp"}),
            ]
        ),
        tool_calls(
            [
                (
                    "update_enrichment",
                    {"customer_id": "c-good", "fields": {"name": "Evil Corp", "industry": "X"}},
                ),
                ("update_enrichment", {"customer_id": "c-done", "fields": {"industry": "New"}}),
                ("update_enrichment", {"customer_id": "c-good", "fields": {"industry": "Banking"}}),
                (
                    "update_enrichment",
                    {
                        "customer_id": "c-good",
                        "fields": {"industry": "Manufacturing", "country": "DE", "employee_count": 1200},
                    },
                ),
            ]
        ),
        reply('RESULT: {"skipped": {"c-html": "refused: not JSON", "c-big": "refused: too large"}}'),
    )
    run = run_dag(build_dag(make_spec(mode="loop")), logical_date=WHEN)
    states = team_states(run)
    assert set(states.values()) == {"success"}, states

    tool_results = json.dumps(model_server.requests[1].body["messages"][-4:])
    assert "not below the allow_urls" in tool_results
    assert "content type is 'text/html'" in tool_results and "larger than the 65536-byte cap" in tool_results
    assert '\\"industry\\": \\"Manufacturing\\"' in tool_results
    assert not any("admin" in path for path in company_directory.requests)
    writes = json.dumps(model_server.requests[2].body["messages"][-4:])
    assert "'name' is not an enrichment column" in writes and "not a customer of this task's list" in writes
    assert "industry 'Banking' is not in the directory's record" in writes  # values come from the record

    rows = customers(engine)
    assert rows["c-good"]["name"] == "Globex GmbH" and rows["c-good"]["industry"] == "Manufacturing"
    assert rows["c-done"]["industry"] == "Old"
    assert all(rows[c]["enriched_at"] is None for c in CUSTOMERS if c not in ("c-good", "c-done"))
    text = Path(xcom(run, "team.validate", map_index=0)["artifact"]).read_text()
    assert "1 of 5 customers to enrich" in text and "refused: not JSON" in text

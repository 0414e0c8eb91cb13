"""reconciliation end to end with dag.test() on a copy of the generated business database, on
SQLite and PostgreSQL: the links written are true ones, each with its ledger row; a clear writes,
asks and sends nothing again; the next day judges the next receipts; a rerun whose model answers
otherwise fails without writing a second opinion."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond, tool_calls
from tests.jobs.business import BUSINESS_CONN, serving_instant, shipped_spec, team_states
from tests.jobs.specs import sqlite_ledger
from tests.postgres import fresh_database

pytestmark = pytest.mark.airflow
TEAM = "team-berlin"


def top_candidate(request):
    """The scripted model of the issue: every receipt's top candidate, at confidence 0.9."""
    matches = request.body["response_format"]["json_schema"]["schema"]["properties"]["matches"]
    answer = {
        rid: {
            "transaction": matches["properties"][rid]["properties"]["transaction"]["enum"][0],
            "confidence": 0.9,
        }
        for rid in matches["required"]
    }
    return reply(json.dumps({"matches": answer}), prompt_tokens=900, completion_tokens=200)


def no_match(request):
    """None of the candidates: each receipt's first at confidence 0."""
    matches = request.body["response_format"]["json_schema"]["schema"]["properties"]["matches"]
    answer = {
        rid: {
            "transaction": matches["properties"][rid]["properties"]["transaction"]["enum"][0],
            "confidence": 0.0,
        }
        for rid in matches["required"]
    }
    return reply(json.dumps({"matches": answer}))


@pytest.fixture(params=["sqlite", "postgres"])
def writable_db(request, business_db, tmp_path) -> Iterator[str]:
    """A SQLAlchemy URL of a copy of the session's sample (this job writes to it)."""
    copy = tmp_path / "business.db"
    shutil.copyfile(business_db.path, copy)
    if request.param == "sqlite":
        yield f"sqlite:///{copy}"
        return
    from agentjobs.business.load import load_into

    with fresh_database("agentjobs_reconcile") as name:
        url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        engine = sa.create_engine(url)
        try:
            load_into(copy, engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def reconcile(llm_conn, writable_db, slack_server, monkeypatch, tmp_path):
    url = sa.engine.make_url(writable_db)
    if url.get_backend_name() == "sqlite":
        conn = json.dumps({"conn_type": "sqlite", "host": url.database})
    else:
        conn = f"postgres://postgres@127.0.0.1:5432/{url.database}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}", conn)
    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": None, "member_preview": False}
    spec = shipped_spec(
        "reconciliation.yaml",
        llm_conn,
        BUSINESS_CONN,
        team_delivery=delivery,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    engine = sa.create_engine(writable_db)
    yield spec, engine
    engine.dispose()


def book(engine: sa.Engine) -> tuple[dict[str, str], dict[str, tuple[str, str | None]]]:
    """(receipt -> transaction of every linked receipt, record -> (outcome, transaction) of the ledger)."""
    with engine.connect() as conn:
        links = dict(
            conn.execute(
                sa.text("SELECT id, transaction_id FROM receipts WHERE transaction_id IS NOT NULL")
            ).all()
        )
        ledger = {
            rid: (outcome, tid)
            for rid, outcome, tid in conn.execute(
                sa.text("SELECT record_id, outcome, transaction_id FROM processed_records")
            )
        }
    return links, ledger


def slack_posts(slack_server) -> int:
    return len(slack_server.server.calls("/api/chat.postMessage")) + len(
        slack_server.server.calls("/api/files.completeUploadExternal")
    )


def forget_runs(dag) -> None:
    """A clear of the same run: the DagRun goes; the files, the ledgers and the links stay."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()


def test_true_links_are_written_once_with_their_ledger_and_the_next_day_judges_the_next_receipts(
    reconcile, business_db, model_server, slack_server
):
    from agentjobs.operators.factory import build_dag

    spec, engine = reconcile
    truth = business_db.truth
    true_of = {m.receipt_id: m.transaction_id for m in truth.receipt_matches}
    before, _ = book(engine)
    model_server.default_step = respond(top_candidate)
    dag = build_dag(spec)
    when = serving_instant(spec, TEAM, truth.last_day)

    run = run_dag(dag, logical_date=when, run_conf={"teams": [TEAM]})
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    result = xcom(run, "team.validate", map_index=0)["result"]
    links, ledger = book(engine)
    new = {rid: tid for rid, tid in links.items() if rid not in before}
    assert new == {rid: link["transaction"] for rid, link in result["links"].items()} and new
    assert all(true_of[rid] == tid for rid, tid in new.items()), new  # precision on this batch: 1
    judged = {*result["links"], *result["review"], *result["no_match"]}
    assert len(judged) == 5 and set(ledger) == judged  # max_records of the shipped spec
    assert {ledger[rid] for rid in new} == {("linked", tid) for tid in new.values()}
    assert xcom(run, "team.apply", map_index=0)["linked"] == sorted(new)
    assert slack_posts(slack_server) == 1 and model_server.calls == 1

    # A clear of the run: nothing asked, written or sent again.
    forget_runs(dag)
    run = run_dag(dag, logical_date=when, run_conf={"teams": [TEAM]})
    assert set(team_states(run).values()) == {"success"}
    assert book(engine) == (links, ledger)
    assert slack_posts(slack_server) == 1 and model_server.calls == 1

    # The next day: five receipts not judged yet; still one transaction per receipt.
    run = run_dag(dag, logical_date=when + timedelta(days=1), run_conf={"teams": [TEAM]})
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    links_2, ledger_2 = book(engine)
    assert len(ledger_2) == 10 and set(ledger) < set(ledger_2)
    assert len(set(links_2.values())) == len(links_2)
    assert all(true_of[rid] == tid for rid, tid in links_2.items() if rid not in before)
    assert slack_posts(slack_server) == 2


def test_a_rerun_whose_model_answers_otherwise_writes_nothing_and_fails(
    reconcile, business_db, model_server, slack_server
):
    from agentjobs.operators.factory import build_dag

    spec, engine = reconcile
    spec = spec.model_copy(
        update={"team_delivery": spec.team_delivery.model_copy(update={"slack_conn_id": None})}
    )
    dag = build_dag(spec)
    when = serving_instant(spec, TEAM, business_db.truth.last_day)
    model_server.default_step = respond(top_candidate)
    run = run_dag(dag, logical_date=when, run_conf={"teams": [TEAM]})
    assert set(team_states(run).values()) == {"success"}
    written = book(engine)

    forget_runs(dag)
    model_server.default_step = respond(no_match)
    run = run_dag(dag, logical_date=when, run_conf={"teams": [TEAM], "resummarize": True})
    states = team_states(run)
    assert states[("team.apply", 0)] == "failed" and states[("team.deliver", 0)] != "success", states
    assert book(engine) == written


def middling(request):
    """Every receipt's top candidate at 0.7: the review band, nothing linked by the run itself."""
    matches = request.body["response_format"]["json_schema"]["schema"]["properties"]["matches"]
    answer = {
        rid: {
            "transaction": matches["properties"][rid]["properties"]["transaction"]["enum"][0],
            "confidence": 0.7,
        }
        for rid in matches["required"]
    }
    return reply(json.dumps({"matches": answer}))


def answer_review_when_asked(dag_id: str, choose, answered: list) -> threading.Thread:
    """A person answering the review as the HITL REST API does: the response on the HITL row, and the
    parked task resumed (dag.test waits for exactly that)."""

    def respond() -> None:
        from airflow.models.hitl import HITLDetail
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.trigger import handle_event_submit
        from airflow.triggers.base import TriggerEvent
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState

        for _ in range(600):
            with create_session() as session:
                ti = (
                    session.query(TaskInstance)
                    .filter(TaskInstance.dag_id == dag_id, TaskInstance.task_id == "team.review")
                    .filter(TaskInstance.state == TaskInstanceState.AWAITING_INPUT)
                    .first()
                )
                detail = session.get(HITLDetail, ti.id) if ti is not None else None
                if detail is not None:
                    detail.responded_by = {"id": "u-7", "name": "Controller"}
                    detail.responded_at = datetime.now(UTC)
                    detail.chosen_options = choose(list(detail.options))
                    detail.params_input = {}
                    answered.append((list(detail.options), list(detail.chosen_options)))
                    handle_event_submit(
                        TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session
                    )
                    return
            time.sleep(0.2)

    thread = threading.Thread(target=respond, daemon=True)
    thread.start()
    return thread


def test_with_review_on_a_person_approves_some_proposals_and_only_those_are_linked(
    reconcile, business_db, model_server
):
    from agentjobs.operators.factory import build_dag

    spec, engine = reconcile
    settings = {**spec.kind_section(), "review": {"enabled": True, "timeout_minutes": 30}}
    spec = spec.with_kind_section(settings)
    dag = build_dag(spec)
    # Beside deliver, not before it: only the run's failure alert waits for the review.
    assert dag.get_task("team.review").downstream_task_ids == {"alert_on_failure"}
    before, _ = book(engine)
    model_server.default_step = respond(middling)
    answered: list = []
    # Approve the first two proposals; the rest are rejected.
    thread = answer_review_when_asked(dag.dag_id, lambda options: options[:2], answered)
    run = run_dag(
        dag, logical_date=serving_instant(spec, TEAM, business_db.truth.last_day), run_conf={"teams": [TEAM]}
    )
    thread.join(timeout=5)
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    ((options, chosen),) = answered
    result = xcom(run, "team.validate", map_index=0)["result"]
    assert result["links"] == {} and len(options) == len(result["review"]) > 2
    links, ledger = book(engine)
    approved = {o.split(" → ")[0] for o in chosen}
    assert {rid for rid in links if rid not in before} == approved
    assert {rid: ledger[rid][0] for rid in result["review"]} == {
        rid: "linked" if rid in approved else "rejected" for rid in result["review"]
    }
    assert xcom(run, "team.review", map_index=0)["approved"] == sorted(approved)


def propose_every_top_candidate(request):
    """Loop mode: one match_record call per receipt of the prompt, its first candidate at 0.9."""
    prompt = next(m["content"] for m in request.body["messages"] if m["role"] == "user")
    calls, receipt = [], None
    for line in prompt.splitlines():
        if line.startswith("receipt "):
            receipt = line.split()[1].rstrip(":")
        elif line.startswith("  - ") and receipt is not None:
            calls.append(
                (
                    "match_record",
                    {"record_id": receipt, "candidate_id": line.split()[1].rstrip(":"), "confidence": 0.9},
                )
            )
            receipt = None
    return tool_calls(calls)


def test_loop_mode_links_what_match_record_recorded(reconcile, business_db, model_server):
    from agentjobs.operators.factory import build_dag

    spec, engine = reconcile
    spec = spec.model_copy(update={"mode": "loop"})
    true_of = {m.receipt_id: m.transaction_id for m in business_db.truth.receipt_matches}
    before, _ = book(engine)
    model_server.script(respond(propose_every_top_candidate), reply("All proposed.\nRESULT: {}"))
    run = run_dag(
        build_dag(spec),
        logical_date=serving_instant(spec, TEAM, business_db.truth.last_day),
        run_conf={"teams": [TEAM]},
    )
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    # The model saw code's verdicts, and what it recorded (not its empty RESULT) was judged.
    tool_answers = [m["content"] for m in model_server.requests[1].body["messages"] if m["role"] == "tool"]
    assert len(tool_answers) == 5 and all('"verdict": "link"' in a for a in tool_answers), tool_answers
    links, ledger = book(engine)
    new = {rid: tid for rid, tid in links.items() if rid not in before}
    assert len(new) == 5 and all(true_of[rid] == tid for rid, tid in new.items())
    assert len(ledger) == 5

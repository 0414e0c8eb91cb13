"""`mode: batch` end to end with dag.test(): every due team's request goes to the Batch API as one
file (the loopback fake), the batch task waits in the (inline) triggerer, each answered team is
validated and delivered through the same contract and ledger as online, a team the batch failed
is asked online within its caps, and a clear sends no second batch, asks nothing, sends nothing.
An endpoint without a Batch API (404) gets every team asked online, said once; a refused key
(401) fails the batch task and asks nothing online."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.batch_api import EXPIRED
from tests.fakes.model_server import error, reply, respond
from tests.jobs.business import team_states
from tests.jobs.specs import sqlite_ledger
from tests.kinds_plugin.fixtures import SKILLS

pytestmark = pytest.mark.airflow
WHEN = datetime(2026, 11, 30, 7, tzinfo=UTC)


def tally_answer(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    items = int(prompt.split("had ", 1)[1].split(" ", 1)[0])
    return json.dumps({"items": items, "remark": "A steady day."})


def answered(body: dict):
    return reply(tally_answer(body), prompt_tokens=1000, completion_tokens=100)


@pytest.fixture
def tally(installed_kinds, llm_conn, business_conn, smtp_server, monkeypatch, tmp_path):
    """A team_tally job (every team due at WHEN) in the given mode, mailed to each team's list."""
    from agentjobs.jobs.kinds.registry import fan_out_kind
    from agentjobs.jobs.spec import JobSpec

    monkeypatch.setattr(type(fan_out_kind("team_tally")), "due", lambda self, team, when, settings: True)
    ledger = sqlite_ledger(monkeypatch, tmp_path)

    def spec(mode: str, **fields: object) -> JobSpec:
        return JobSpec.model_validate(
            {
                "dag_id": f"team_tally_{mode}_{uuid.uuid4().hex[:8]}",
                "kind": "team_tally",
                "title": "Team tally",
                "start_date": "2026-11-01",
                "skill": "team-tally",
                "mode": mode,
                "llm_conn_id": llm_conn,
                "retries": 0,
                "sources": {"sql": {"conn_id": business_conn}},
                "team_delivery": {
                    "slack_conn_id": None,
                    "smtp_conn_id": smtp_server.conn_id,
                    "member_preview": False,
                },
                "ledger_conn_id": ledger,
                **fields,
            }
        )

    return spec


def artifacts(run) -> dict[str, tuple[str, str]]:
    """Each served team's validated artifact text and sha256."""
    served = xcom(run, "fetch")
    out = {}
    for i, entry in enumerate(served):
        validated = xcom(run, "team.validate", map_index=i)
        out[entry["team"]] = (Path(validated["artifact"]).read_text(), validated["sha256"])
    return out


def test_a_batch_answers_all_teams_but_one_which_is_asked_online_and_a_clear_sends_nothing(
    tally, model_server, smtp_server
):
    from agentjobs.agent.batch_request import batch_key
    from agentjobs.delivery.ledger import DeliveryLedger
    from agentjobs.operators.factory import build_dag

    spec = tally("batch")
    fake = model_server.batch_api
    refused: list[str] = []

    def batch_answer(key: str, body: dict):
        if not refused:  # the batch's first line fails; the endpoint answers it online later
            refused.append(key)
            return error(400, "scripted line failure")
        return answered(body)

    fake.answer = batch_answer
    model_server.default_step = respond(lambda request: answered(request.body))
    dag = build_dag(spec, SKILLS)
    for task in dag.tasks:
        if task.task_id == "batch":
            task.poll_interval_s = 0.01
    run = run_dag(dag, logical_date=WHEN)
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    served = xcom(run, "fetch")
    assert len(served) >= 3

    # One batch of every served team's request; one online call, for the line the batch failed.
    (batch_id,) = fake.batches
    keys = [line["custom_id"] for line in fake.input_lines(batch_id)]
    assert sorted(keys) == sorted(batch_key(s["team"]) for s in served)
    assert model_server.calls == 1
    online_team = next(s["team"] for s in served if batch_key(s["team"]) == refused[0])
    summary = xcom(run, "batch")
    assert summary["online"] == [online_team] and len(summary["answered"]) == len(served) - 1
    # The online call is the batch line's very request.
    line = next(line for line in fake.input_lines(batch_id) if line["custom_id"] == refused[0])
    assert model_server.requests[0].body == line["body"]

    # Each team's usage on its caps: a batch answer at half the online price.
    usage = {s["team"]: xcom(run, "team.summarize", map_index=i)["usage"] for i, s in enumerate(served)}
    online_cost = (1000 * 1.0 + 100 * 4.0) / 1_000_000
    for team, spent in usage.items():
        assert spent["total_tokens"] == 1100, (team, spent)
        assert spent["cost_usd"] == pytest.approx(online_cost if team == online_team else online_cost / 2)

    # Delivered once each, through the ledger, as online mode delivers.
    ledger = DeliveryLedger.from_conn_id(spec.ledger_conn_id)
    rows = [
        r for s in served for r in ledger.history(job=f"{spec.dag_id}/{s['team']}", logical_date=s["period"])
    ]
    assert rows and all(r.status == "sent" and r.attempt == 1 for r in rows)
    assert len({(r.job, r.channel, r.target) for r in rows}) == len(rows) == len(smtp_server.messages)

    # The same validated artifacts as online mode gives for the same answers.
    batch_artifacts = artifacts(run)
    online_run = run_dag(build_dag(tally("structured"), SKILLS), logical_date=WHEN)
    assert set(team_states(online_run).values()) == {"success"}
    assert artifacts(online_run) == batch_artifacts
    assert model_server.calls == 1 + len(served)

    # A clear of the delivered batch run: no new batch, no model call, nothing sent again.
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    calls, mails = model_server.calls, len(smtp_server.messages)
    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()
    again = run_dag(dag, logical_date=WHEN)
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert list(fake.batches) == [batch_id] and len([r for r in fake.requests if r.method == "POST"]) == 2
    assert (model_server.calls, len(smtp_server.messages)) == (calls, mails)


def test_chunks_in_batch_mode_take_every_teams_answer_from_the_one_batch(tally, model_server, smtp_server):
    from agentjobs.agent.batch_request import batch_key
    from agentjobs.operators.factory import build_dag
    from agentjobs.operators.team_chunk import TEAMS_KEY

    spec = tally("batch", fan_out={"chunks": 2})
    fake = model_server.batch_api
    fake.answer = lambda key, body: answered(body)
    dag = build_dag(spec, SKILLS)
    for task in dag.tasks:
        if task.task_id == "batch":
            task.poll_interval_s = 0.01
    run = run_dag(dag, logical_date=WHEN)
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    chunks = xcom(run, "fetch")
    served = [entry["team"] for chunk in chunks for entry in chunk]
    assert len(chunks) == 2 and len(served) >= 3
    # One batch line a team, of every chunk; no online call; one mail a team.
    (batch_id,) = fake.batches
    assert sorted(line["custom_id"] for line in fake.input_lines(batch_id)) == sorted(map(batch_key, served))
    assert model_server.calls == 0
    # Delivered once each, through the ledger, as a chain per team delivers.
    from agentjobs.delivery.ledger import DeliveryLedger

    ledger = DeliveryLedger.from_conn_id(spec.ledger_conn_id)
    periods = {entry["team"]: entry["period"] for chunk in chunks for entry in chunk}
    rows = [r for t in served for r in ledger.history(job=f"{spec.dag_id}/{t}", logical_date=periods[t])]
    assert rows and all(r.status == "sent" and r.attempt == 1 for r in rows)
    assert len({(r.job, r.channel, r.target) for r in rows}) == len(rows) == len(smtp_server.messages)
    outcomes = {team: o for i in range(2) for team, o in xcom(run, "team.summarize", TEAMS_KEY, i).items()}
    assert sorted(outcomes) == sorted(served)
    half_price = (1000 * 1.0 + 100 * 4.0) / 1_000_000 / 2
    assert all(o["usage"]["cost_usd"] == pytest.approx(half_price) for o in outcomes.values())


def test_an_expired_batch_falls_back_online_for_the_teams_it_did_not_reach(tally, model_server, smtp_server):
    from agentjobs.operators.factory import build_dag

    fake = model_server.batch_api
    fake.statuses = EXPIRED
    reached: list[str] = []

    def first_only(key: str, body: dict):
        if reached:
            return None  # never run in the window: the error file says batch_expired
        reached.append(key)
        return answered(body)

    fake.answer = first_only
    model_server.default_step = respond(lambda request: answered(request.body))
    dag = build_dag(tally("batch"), SKILLS)
    dag.get_task("batch").poll_interval_s = 0.01
    run = run_dag(dag, logical_date=WHEN)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    served = xcom(run, "fetch")
    assert model_server.calls == len(served) - 1
    assert len(xcom(run, "batch")["answered"]) == 1
    assert len(smtp_server.messages) >= 1


def test_an_endpoint_without_a_batch_api_asks_every_team_online_and_says_so_once(
    tally, model_server, smtp_server, capfd
):
    from agentjobs.delivery.ledger import DeliveryLedger
    from agentjobs.operators.factory import build_dag

    spec = tally("batch")
    fake = model_server.batch_api
    fake.refuse = {"files": error(404, "File Not Found")}  # the embedded llama.cpp server's answer
    model_server.default_step = respond(lambda request: answered(request.body))
    run = run_dag(build_dag(spec, SKILLS), logical_date=WHEN)
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    served = xcom(run, "fetch")
    assert model_server.calls == len(served) and fake.batches == {}
    ledger = DeliveryLedger.from_conn_id(spec.ledger_conn_id)
    rows = [
        r for s in served for r in ledger.history(job=f"{spec.dag_id}/{s['team']}", logical_date=s["period"])
    ]
    assert rows and all(r.status == "sent" for r in rows) and len(rows) == len(smtp_server.messages)
    # Said once, in the batch task's log and its XCom: the endpoint, the status, the fallback.
    summary = xcom(run, "batch")
    assert sorted(summary["online"]) == sorted(s["team"] for s in served)
    note = summary["fallback"]
    assert f"{model_server.base_url}/files refused the batch (HTTP 404: File Not Found)" in note
    assert f"fell back to online calls for {len(served)} team(s)" in note
    warnings = [line for line in capfd.readouterr().out.splitlines() if "Batch API unavailable" in line]
    assert len(warnings) == 1 and note in warnings[0]
    # Each team at the online price, within its caps.
    for i in range(len(served)):
        usage = xcom(run, "team.summarize", map_index=i)["usage"]
        assert usage["cost_usd"] == pytest.approx((1000 * 1.0 + 100 * 4.0) / 1_000_000)


def test_a_refused_key_fails_the_batch_loud_and_asks_nothing_online(tally, model_server, smtp_server):
    from agentjobs.hooks.ledger import run_log
    from agentjobs.operators.factory import build_dag

    spec = tally("batch")
    model_server.batch_api.refuse = {"files": error(401, "Incorrect API key provided")}
    model_server.default_step = respond(lambda request: answered(request.body))
    run = run_dag(build_dag(spec, SKILLS), logical_date=WHEN)
    states = team_states(run)
    assert states[("batch", -1)] == "failed", states
    assert {state for (task, _), state in states.items() if task.startswith("team.")} <= {"upstream_failed"}
    assert model_server.calls == 0 and smtp_server.messages == []
    details = run_log(spec.ledger_conn_id).run_failures(spec.dag_id, run.run_id)
    assert any(
        d.startswith("batch: ModelRequestError: Batch API refused the key: HTTP 401") for d in details
    ), details
    assert all("check the LLM connection" in d for d in details if d.startswith("batch:")), details

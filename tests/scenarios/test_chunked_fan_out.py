"""Chunked fan-out (`fan_out.chunk_size`): weekly_insights over seven UTC teams in chunks of three.
Each team is delivered once, by fewer task instances than one chain per team; one team's model
failure leaves the others delivered and the run failed naming it; a clear sends nothing twice and
asks the model nothing for the teams already done."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import error, reply, respond
from tests.jobs.business import BUSINESS_CONN, shipped_spec, team_states
from tests.jobs.specs import sqlite_ledger
from tests.scenarios.test_run_files_on_s3 import bucket_files, on_s3  # noqa: F401 (a fixture)

pytestmark = pytest.mark.airflow

TEAMS = [f"team-{n}" for n in range(7)]
BROKEN = "team-3"  # the only team spending on `legal`: a model asked about it answers 400
SUNDAY_NINE = datetime(2026, 11, 29, 9, tzinfo=UTC)  # every UTC team's weekly run


def build_db(path: Path) -> str:
    """Seven UTC teams, each with a mailing list and five weeks of income and spending."""
    from agentjobs.business import schema

    rng = Random(24)
    first = SUNDAY_NINE.replace(hour=0, tzinfo=None) - timedelta(days=35)
    teams, txns = [], []
    for team in TEAMS:
        teams.append({"id": team, "name": team.title(), "timezone": "UTC", "currency": "USD",
                      "email_list": f"{team}@example.org"})  # fmt: skip
        for day in range(35):
            for n, kind in enumerate(("income", "expense")):
                category = "sales" if kind == "income" else ("legal" if team == BROKEN else "travel")
                txns.append({"id": f"{team}-{day}-{n}", "team_id": team, "kind": kind,
                             "occurred_at": first + timedelta(days=day, hours=10 + n),
                             "category": category, "amount_cents": rng.randint(1_000, 90_000),
                             "currency": "USD", "description": f"{kind} {day}"})  # fmt: skip
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        schema.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(schema.teams.insert(), teams)
            conn.execute(schema.transactions.insert(), txns)
    finally:
        engine.dispose()
    return str(path)


def top_metrics(request):
    """The first three metrics of the data; a 400 for the team spending on `legal`."""
    prompt = request.body["messages"][-1]["content"]
    metrics = re.findall(r"^- metric: (\S+) \|", prompt, flags=re.M)[:3]
    if any("legal" in m for m in metrics):
        return error(400, "this team's data upsets the model")
    answer = {"findings": [{"metric": m, "comment": "Worth a look"} for m in metrics]}
    return reply(json.dumps(answer), prompt_tokens=400, completion_tokens=60)


def job(llm_conn, smtp_server, monkeypatch, tmp_path, chunk_size: int):
    conn = json.dumps({"conn_type": "sqlite", "host": build_db(tmp_path / "teams.db")})
    monkeypatch.setenv(f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}", conn)
    return shipped_spec(
        "weekly-insights.yaml",
        llm_conn,
        BUSINESS_CONN,
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
        fan_out={"chunk_size": chunk_size, "concurrency": 2},
    )


def recipients(smtp_server) -> list[str]:
    return sorted(",".join(m.rcpt_tos) for m in smtp_server.messages)


def test_seven_teams_in_chunks_of_three_are_each_delivered_once_by_three_chains(
    llm_conn, smtp_server, model_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    spec = job(llm_conn, smtp_server, monkeypatch, tmp_path, chunk_size=3)
    model_server.default_step = respond(top_metrics)
    good = [t for t in TEAMS if t != BROKEN]
    run = run_dag(build_dag(spec), logical_date=SUNDAY_NINE, run_conf={"teams": good})
    states = team_states(run)
    # Six teams: chunks of 3 and 3, so two summarize, two validate, two deliver task instances.
    assert sorted(k for k in states if k[0].startswith("team.")) == [
        (task, index) for task in ("team.deliver", "team.summarize", "team.validate") for index in (0, 1)
    ], states
    assert set(states.values()) == {"success"}, states
    assert recipients(smtp_server) == [f"{t}@example.org" for t in good]
    assert model_server.calls == len(good)
    # Each team has its own artifact, transcript and RESULT, as when it had tasks of its own.
    outcomes = {**xcom(run, "team.summarize", key="teams", map_index=0),
                **xcom(run, "team.summarize", key="teams", map_index=1)}  # fmt: skip
    assert sorted(outcomes) == good
    for team, outcome in outcomes.items():
        folder = Path(outcome["artifact"])
        assert team in folder.parts
        assert (folder / "insights.md").is_file() and (folder / "transcript.jsonl").is_file()
        assert outcome["usage"]["iterations"] == 1


def test_a_teams_model_failure_leaves_its_chunk_delivered_and_names_it(
    llm_conn, smtp_server, model_server, monkeypatch, tmp_path
):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from agentjobs.operators.factory import build_dag

    spec = job(llm_conn, smtp_server, monkeypatch, tmp_path, chunk_size=3)
    oncall = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    spec = type(spec).model_validate({**spec.model_dump(), "alert": oncall})
    model_server.default_step = respond(top_metrics)
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=SUNDAY_NINE)
    states = team_states(run)
    # team-3 is in the second chunk (team-3, team-4, team-5): its summarize fails, permanently
    # (a 400), and its chunk's other two teams are validated and delivered all the same.
    assert states[("team.summarize", 1)] == "failed", states
    assert states[("team.validate", 1)] == "success", states
    assert states[("team.deliver", 1)] == "success", states
    assert run.state == "failed"
    delivered = [f"{t}@example.org" for t in TEAMS if t != BROKEN]
    assert [r for r in recipients(smtp_server) if r != "oncall@example.org"] == delivered
    alert = next(
        email.message_from_bytes(m.content, policy=email.policy.default)
        for m in smtp_server.messages
        if m.rcpt_tos == ["oncall@example.org"]
    )
    body = " ".join(alert.get_body(("plain",)).get_content().split())
    assert f"1 of 3 teams failed to summarize: {BROKEN}:" in body, body
    # The alert names the team that failed, not its chunk's neighbours (team-4, team-5).
    assert alert["subject"].endswith(f"team {BROKEN} failed"), alert["subject"]
    assert f"- team {BROKEN}: `team.summarize`" in body and "team-4" not in body, body

    # A clear of the run: nothing is sent twice, and only the failed team asks the model again.
    calls, sent = model_server.calls, len(smtp_server.messages)
    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()
    again = run_dag(dag, logical_date=SUNDAY_NINE)
    assert team_states(again)[("team.summarize", 1)] == "failed"
    assert model_server.calls == calls + 1  # team-3's one call; the six delivered teams are kept
    assert len(smtp_server.messages) == sent + 1  # the second run's alert, no insights again


def test_a_kind_with_a_persons_review_on_refuses_chunks_naming_the_setting(llm_conn, business_conn):
    from agentjobs.jobs.spec import JobSpecError

    review = {"review": {"enabled": True}}
    with pytest.raises((ValueError, JobSpecError)) as raised:
        shipped_spec(
            "reconciliation.yaml", llm_conn, business_conn, fan_out={"chunk_size": 5}, reconciliation=review
        )
    assert "fan_out.chunk_size" in str(raised.value) and "reconciliation.review.enabled" in str(raised.value)
    # Its review off (the shipped default), reconciliation's apply runs in chunks.
    spec = shipped_spec("reconciliation.yaml", llm_conn, business_conn, fan_out={"chunk_size": 5})
    assert spec.fan_out.chunked


def test_a_retry_of_a_chunk_calls_the_model_again_only_for_the_team_that_failed(
    llm_conn, smtp_server, model_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    spec = job(llm_conn, smtp_server, monkeypatch, tmp_path, chunk_size=3)
    spec = type(spec).model_validate({**spec.model_dump(), "retries": 1, "retry_delay_s": 0.1})
    failed_once: list[str] = []

    def flaky(request):
        if "legal" in request.body["messages"][-1]["content"] and not failed_once:
            failed_once.append("team-3")
            return error(503, "overloaded, try again")
        prompt = request.body["messages"][-1]["content"]
        metrics = re.findall(r"^- metric: (\S+) \|", prompt, flags=re.M)[:3]
        answer = {"findings": [{"metric": m, "comment": "Worth a look"} for m in metrics]}
        return reply(json.dumps(answer), prompt_tokens=400, completion_tokens=60)

    model_server.default_step = respond(flaky)
    run = run_dag(build_dag(spec), logical_date=SUNDAY_NINE)
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    assert recipients(smtp_server) == [f"{t}@example.org" for t in TEAMS]
    # Seven first calls and team-3's second: its chunk's two other teams replayed their answers.
    assert model_server.calls == len(TEAMS) + 1


def test_a_failed_fetch_leaves_the_chunk_tasks_unrun_and_the_run_failed(
    llm_conn, smtp_server, model_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    spec = job(llm_conn, smtp_server, monkeypatch, tmp_path, chunk_size=3)
    run = run_dag(build_dag(spec), logical_date=SUNDAY_NINE, run_conf={"teams": ["team-9"]})
    states = team_states(run)
    assert states[("fetch", -1)] == "failed", states
    # validate and deliver wait for `all_done`, but with no list to expand over they never run.
    assert {s for (task, _), s in states.items() if task.startswith("team.")} == {"upstream_failed"}, states
    assert run.state == "failed" and model_server.calls == 0 and smtp_server.messages == []


def test_a_chunks_team_folders_go_to_the_run_file_store_and_a_clear_keeps_them(
    llm_conn, smtp_server, model_server, s3_server, request, monkeypatch, tmp_path
):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from agentjobs.jobs.artifacts import artifact_base
    from agentjobs.operators.factory import build_dag

    prefix = request.getfixturevalue("on_s3")  # the run files' prefix of the moto bucket
    spec = job(llm_conn, smtp_server, monkeypatch, tmp_path, chunk_size=4)
    model_server.default_step = respond(top_metrics)
    good = [t for t in TEAMS if t != BROKEN]
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=SUNDAY_NINE, run_conf={"teams": good})
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    # Each team of each chunk has its own folder in the bucket, none on the local disk.
    stored = bucket_files(s3_server, prefix)
    for team in good:
        folder = f"{spec.dag_id}/{team}/2026-11-28"
        for name in ("sources/sql.json", "insights.md", "result.json", "transcript.jsonl", "preview.txt"):
            assert f"{folder}/{name}" in stored, (folder, name, sorted(stored))
    assert not (artifact_base() / spec.dag_id).exists()
    assert recipients(smtp_server) == [f"{t}@example.org" for t in good]

    calls, sent = model_server.calls, len(smtp_server.messages)
    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()
    again = run_dag(dag, logical_date=SUNDAY_NINE, run_conf={"teams": good})
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert (model_server.calls, len(smtp_server.messages)) == (calls, sent)


def test_chunks_a_rate_limit_cannot_keep_busy_are_merged_into_one_task_that_serves_every_team(
    llm_conn, smtp_server, model_server, monkeypatch, tmp_path
):
    """`fan_out.chunks` asks for three chunks, but the connection's limiter admits 60 requests a
    minute, two minutes of which are 120 teams: the six teams run as one chunk, whose task runs the
    calls of the three it stands for at once (3 x concurrency 2), and every team is delivered once."""
    from agentjobs.operators.factory import build_dag

    spec = job(llm_conn, smtp_server, monkeypatch, tmp_path, chunk_size=1)
    spec = spec.model_copy(update={"fan_out": spec.fan_out.model_copy(update={"chunks": 3})})
    monkeypatch.setenv("AGENTJOBS_LEDGER_CONN_ID", spec.ledger_conn_id)
    conn = json.loads(os.environ[f"AIRFLOW_CONN_{llm_conn.upper()}"])
    conn["extra"] = {**conn["extra"], "requests_per_minute": 60, "rate_limit_store": "ledger"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{llm_conn.upper()}", json.dumps(conn))
    model_server.default_step = respond(top_metrics)
    good = [t for t in TEAMS if t != BROKEN]
    run = run_dag(build_dag(spec), logical_date=SUNDAY_NINE, run_conf={"teams": good})
    states = team_states(run)
    assert sorted(k for k in states if k[0].startswith("team.")) == [
        (task, 0) for task in ("team.deliver", "team.summarize", "team.validate")
    ], states
    assert set(states.values()) == {"success"}, states
    assert xcom(run, "fetch", key="chunk_concurrency") == 6
    assert recipients(smtp_server) == [f"{t}@example.org" for t in good]
    assert model_server.calls == len(good)

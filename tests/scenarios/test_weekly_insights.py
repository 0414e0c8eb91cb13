"""weekly_insights end to end with dag.test() on the generated business database: each team at its
own Sunday 09:00, the planted change reported, every number checked, delivered once per target."""

from __future__ import annotations

import email
import email.policy
import json
import re
from pathlib import Path

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.business import on_the_teams_clock, serving_instant, shipped_spec, team_states
from tests.jobs.specs import sqlite_ledger

pytestmark = pytest.mark.airflow


def top_three_from_the_data(request):
    """A model that picks the first three metrics of the data, as listed (largest change first)."""
    prompt = request.body["messages"][-1]["content"]
    metrics = re.findall(r"^- metric: (\S+) \|", prompt, flags=re.M)[:3]
    answer = {"findings": [{"metric": m, "comment": "Worth a look"} for m in metrics]}
    return reply(json.dumps(answer), prompt_tokens=400, completion_tokens=60)


def planted(business_db):
    last = business_db.truth.last_day
    return next(c for c in business_db.truth.weekly_changes if c.week_end == last)


@pytest.fixture
def insights(llm_conn, any_business_conn, smtp_server, slack_server, monkeypatch, tmp_path):
    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": smtp_server.conn_id}
    return shipped_spec(
        "weekly-insights.yaml",
        llm_conn,
        any_business_conn,
        team_delivery={**delivery, "member_preview": True},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )


def mails(smtp_server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp_server.messages]


def test_the_planted_change_reaches_its_team_at_its_own_sunday_nine(
    insights, business_db, model_server, smtp_server, slack_server
):
    from agentjobs.operators.factory import build_dag
    from agentjobs.sources.sql import fetch_teams

    change = planted(business_db)
    when = serving_instant(insights, change.team_id, change.week_end)
    model_server.default_step = respond(top_three_from_the_data)
    dag = build_dag(insights)
    run = run_dag(dag, logical_date=when)
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    # Only the team whose local time is Sunday 09:00 is served by this hourly run.
    assert xcom(run, "fetch") == [{"team": change.team_id, "period": change.week_end.isoformat()}]
    assert ("team.summarize", 0) in states and ("team.summarize", 1) not in states

    (team, members) = next(p for p in fetch_teams(insights.sources.sql.conn_id) if p[0].id == change.team_id)
    assert when.astimezone(__import__("zoneinfo").ZoneInfo(team.timezone)).strftime("%a %H") == "Sun 09"
    validated = xcom(run, "team.validate")
    text = Path(validated["artifact"]).read_text()
    category = change.category.replace("_", " ")
    assert re.search(rf"\*\*[^*]*{category}[^*]*\*\*", text, flags=re.I), text
    assert f"{change.change_pct:.1f}" in text, text

    # One post to the team's channel, one mail to its list, one preview line to each member whose
    # own clock says Sunday 09:00 too (the others get theirs at their own 09:00).
    sent_to = sorted(tuple(m.rcpt_tos) for m in smtp_server.messages)
    at_nine = on_the_teams_clock(team, members, when)
    assert at_nine, members
    expected = sorted(
        [(m.email,) for m in at_nine] + ([tuple(sorted(team.email_list))] if team.email_list else [])
    )
    assert sent_to == expected
    posts = slack_server.server.calls("/api/chat.postMessage") + slack_server.server.calls(
        "/api/files.completeUploadExternal"
    )
    assert bool(posts) == bool(team.slack_channel)

    # A rerun of the same hour (a clear, or a backfill of that week) delivers nothing new
    # and asks the model nothing: the delivered insights are kept as sent.
    calls, delivered = model_server.calls, len(smtp_server.messages)
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()
    again = run_dag(dag, logical_date=when)
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert (model_server.calls, len(smtp_server.messages)) == (calls, delivered)
    assert Path(validated["artifact"]).read_text() == text


def test_an_hour_that_is_nobodys_sunday_nine_serves_no_team_and_calls_no_model(insights, model_server):
    from datetime import UTC, datetime

    from agentjobs.operators.factory import build_dag

    # Saturday noon UTC: Saturday evening in Tokyo and Sydney, Saturday morning in the Americas.
    run = run_dag(build_dag(insights), logical_date=datetime(2026, 11, 28, 12, tzinfo=UTC))
    states = team_states(run)
    # The fetch ends the run: green, then every later task skipped (tests/scenarios/test_quiet_runs.py).
    assert xcom(run, "fetch") is None
    assert states.pop(("fetch", -1)) == "success", states
    assert set(states.values()) == {"skipped"} and all(index == -1 for _, index in states), states
    assert model_server.calls == 0


def test_an_invented_number_fails_validation_with_no_delivery(
    llm_conn, business_conn, business_db, model_server, smtp_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    spec = shipped_spec(
        "weekly-insights.yaml",
        llm_conn,
        business_conn,
        mode="loop",
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": True},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    change = planted(business_db)
    bullets = ["Revenue grew by 37.5 % this week", "Expenses were flat", "Travel was quiet"]
    model_server.default_step = reply("RESULT: " + json.dumps({"bullets": bullets, "items": 3}))
    run = run_dag(build_dag(spec), logical_date=serving_instant(spec, change.team_id, change.week_end))
    states = team_states(run)
    assert states[("team.summarize", 0)] == "success", states
    assert states[("team.validate", 0)] == "failed", states
    assert states[("team.deliver", 0)] == "upstream_failed", states
    assert smtp_server.messages == []


def test_a_bullet_naming_a_customer_of_no_row_fails_validation_with_one_alert_quoting_it(
    llm_conn, business_conn, business_db, model_server, smtp_server, slack_server, monkeypatch, tmp_path
):
    """Every number true, one name invented: nothing reaches Slack, the list or a member; one alert."""
    from agentjobs.operators.factory import build_dag

    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": smtp_server.conn_id}
    spec = shipped_spec(
        "weekly-insights.yaml",
        llm_conn,
        business_conn,
        mode="loop",
        team_delivery={**delivery, "member_preview": True},
        alert={"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    change = planted(business_db)
    bullets = [
        f"{change.category.capitalize()} spend led the week.",
        "Expenses rose while revenue held steady.",
        "Most of the sales revenue came from Initech Holdings.",
    ]
    model_server.default_step = reply("RESULT: " + json.dumps({"bullets": bullets, "items": 3}))
    run = run_dag(build_dag(spec), logical_date=serving_instant(spec, change.team_id, change.week_end))
    states = team_states(run)
    assert states[("team.summarize", 0)] == "success", states
    assert states[("team.validate", 0)] == "failed", states
    assert states[("team.deliver", 0)] == "upstream_failed", states
    assert slack_server.server.calls("/api/chat.postMessage") == []
    assert slack_server.server.calls("/api/files.completeUploadExternal") == []
    (alert,) = mails(smtp_server)
    assert alert["To"] == "oncall@example.org"
    body = alert.get_body(("plain",)).get_content()
    assert "bullet 3 names 'Initech Holdings', which is in no row of the snapshot" in " ".join(body.split())

"""One alert per failing run: a model endpoint down while a fan-out serves three teams pages once,
naming the three teams and the cause, not once per team; a run where nothing failed pages no one."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import error
from tests.jobs.business import BUSINESS_CONN, shipped_spec, team_states
from tests.jobs.kinds.test_batch_notifications import at
from tests.jobs.specs import sqlite_ledger

pytestmark = pytest.mark.airflow

FAILING = ["team-a", "team-b", "team-c"]
QUIET = "team-q"  # no event: not served


def build_db(path: Path) -> str:
    """Four teams; each of the first three has one matched receipt in the 10:05 window."""
    from agentjobs.business import schema

    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        schema.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                schema.teams.insert(),
                [
                    {"id": team, "name": team.title(), "timezone": "UTC", "currency": "EUR",
                     "slack_channel": f"#{team}"}
                    for team in [*FAILING, QUIET]
                ],
            )  # fmt: skip
            conn.execute(
                schema.events.insert(),
                [
                    {"id": i, "team_id": team, "occurred_at": at(10, 1).replace(tzinfo=None),
                     "category": "receipt_matched", "record_id": f"rcpt-{i}"}
                    for i, team in enumerate(FAILING, start=1)
                ],
            )  # fmt: skip
    finally:
        engine.dispose()
    return str(path)


@pytest.fixture
def batch_job(llm_conn, slack_server, smtp_server, monkeypatch, tmp_path):
    """batch_notifications with a model sentence, its teams' Slack, and on-call by email."""
    import json

    db = build_db(tmp_path / "teams.db")
    conn = json.dumps({"conn_type": "sqlite", "host": db})
    monkeypatch.setenv(f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}", conn)
    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": None, "member_preview": False}
    spec = shipped_spec(
        "batch-notifications.yaml",
        llm_conn,
        BUSINESS_CONN,
        team_delivery=delivery,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
        batch_notifications={"summary": "model"},
    )
    oncall = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    return type(spec).model_validate({**spec.model_dump(), "alert": oncall})


def alerts(smtp_server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp_server.messages]


def test_a_model_endpoint_down_for_three_teams_pages_once_naming_them(
    batch_job, model_server, smtp_server, slack_server
):
    from agentjobs.operators.factory import build_dag

    model_server.default_step = error(503, "the model endpoint is down")
    run = run_dag(build_dag(batch_job), logical_date=at(10, 5))

    assert [s["team"] for s in xcom(run, "fetch")] == FAILING
    states = team_states(run)
    assert [states[("team.summarize", i)] for i in range(3)] == ["failed"] * 3, states
    sent = alerts(smtp_server)
    assert len(sent) == 1, [m["Subject"] for m in sent]  # one page for the run, not one per team
    (alert,) = sent
    text = alert.get_body(("plain",)).get_content()
    assert alert["Subject"].endswith("3 of 3 teams failed"), alert["Subject"]
    for team in FAILING:
        assert f"team {team}: `team.summarize`: TransientAgentError" in text, text
    assert text.count("the model endpoint is down") == 3
    assert QUIET not in text
    assert slack_server.server.calls("/api/chat.postMessage") == []  # no team got a summary
    # The run is red, and its last task says why: the Grid view ends in the failure summary.
    assert run.state == "failed"
    assert states[("alert_on_failure", -1)] == "failed", states


def test_a_run_where_nothing_failed_pages_no_one(batch_job, model_server, smtp_server):
    import json

    from agentjobs.operators.factory import build_dag
    from tests.fakes.model_server import reply

    model_server.default_step = reply(json.dumps({"summary": "One receipt was matched."}))
    run = run_dag(build_dag(batch_job), logical_date=at(10, 5))
    assert run.state == "success", team_states(run)
    assert team_states(run)[("alert_on_failure", -1)] == "success"
    assert smtp_server.messages == []


def test_a_team_that_recovers_on_its_retry_pages_no_one(batch_job, model_server, smtp_server):
    """The alert task runs only once every task is done, retries included: a failure that a
    retry mends is no failure of the run."""
    import json

    from agentjobs.operators.factory import build_dag
    from tests.fakes.model_server import reply

    spec = type(batch_job).model_validate({**batch_job.model_dump(), "retries": 1, "retry_delay_s": 0.1})
    model_server.script(error(503, "a blip"))  # the first call of the run fails, then all answer
    model_server.default_step = reply(json.dumps({"summary": "One receipt was matched."}))
    run = run_dag(build_dag(spec), logical_date=at(10, 5))
    assert run.state == "success", team_states(run)
    tries = {ti.map_index: ti.try_number for ti in run.get_task_instances() if ti.task_id == "team.summarize"}
    assert sorted(tries.values()) == [1, 1, 2] and model_server.calls == 4
    assert smtp_server.messages == []

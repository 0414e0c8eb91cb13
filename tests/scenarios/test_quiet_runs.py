"""What a user sees of a fan-out job's runs with dag.test(): an hour nobody is due ends at the fetch
(green), every later task skipped, the alert too, no mapped team instance, no model call; an hour a
team is due runs that team's chain. The `teams` Param of a triggered run and a rerun of the same
hour (a clear, a backfill) go the same two ways. The real scheduler takes the same path: the skip
is the fetch task's own call to Airflow's execution API (docs/business.md: "Runs that served nobody")."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.business import serving_instant, shipped_spec, team_states
from tests.jobs.specs import sqlite_ledger

pytestmark = pytest.mark.airflow

SATURDAY_NOON = datetime(2026, 11, 28, 12, tzinfo=UTC)  # nobody's Sunday 09:00, in any zone
LATER_TASKS = {"team.summarize", "team.validate", "team.deliver", "alert_on_failure"}


def top_three(request):
    """A model that picks the first three metrics of the data."""
    metrics = re.findall(r"^- metric: (\S+) \|", request.body["messages"][-1]["content"], flags=re.M)
    return reply(json.dumps({"findings": [{"metric": m, "comment": "Worth a look"} for m in metrics[:3]]}))


def due_team(spec, business_db) -> tuple[str, str, datetime]:
    """A team, the week it is served for (the data's last), and the hour that serves it."""
    change = next(c for c in business_db.truth.weekly_changes if c.week_end == business_db.truth.last_day)
    return change.team_id, change.week_end.isoformat(), serving_instant(spec, change.team_id, change.week_end)


@pytest.fixture
def insights(llm_conn, business_conn, smtp_server, monkeypatch, tmp_path):
    delivery = {"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False}
    return shipped_spec(
        "weekly-insights.yaml",
        llm_conn,
        business_conn,
        team_delivery=delivery,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )


def forget_runs(dag) -> None:
    """A clear of the job's runs: the DagRuns go, the files and the ledger stay."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()


def assert_served_nobody(run) -> None:
    """The run as the Grid shows it: success, fetch green, every other task skipped, one row each."""
    states = team_states(run)
    assert run.state == "success"
    assert states == {("fetch", -1): "success", **{(task, -1): "skipped" for task in LATER_TASKS}}, states
    # No list of teams to map over: the fetch ended by skipping the rest (ShortCircuitOperator's
    # record, which keeps a lone cleared task of this run skipped).
    assert xcom(run, "fetch") is None
    assert set(xcom(run, "fetch", key="skipmixin_key")["skipped"]) == LATER_TASKS


def test_an_hour_nobody_is_due_ends_at_the_fetch_and_an_hour_a_team_is_due_runs_its_chain(
    insights, business_db, model_server, smtp_server
):
    from agentjobs.hooks.ledger import run_log
    from agentjobs.operators.factory import build_dag

    dag = build_dag(insights)
    idle = run_dag(dag, logical_date=SATURDAY_NOON)
    assert_served_nobody(idle)
    assert (model_server.calls, len(smtp_server.messages)) == (0, 0)
    # Still a good run for the health check: the job is not stale for serving nobody.
    assert [e["outcome"] for e in run_log(insights.ledger_conn_id).recent(insights.dag_id)] == ["success"]

    team_id, period, when = due_team(insights, business_db)
    model_server.default_step = respond(top_three)
    busy = run_dag(dag, logical_date=when)
    states = team_states(busy)
    assert busy.state == "success" and set(states.values()) == {"success"}, states
    assert xcom(busy, "fetch") == [{"team": team_id, "period": period}]
    assert ("team.summarize", 0) in states and ("team.summarize", -1) not in states
    assert xcom(busy, "fetch", key="skipmixin_key") is None
    assert model_server.calls == 1

    # A clear of both hours: the idle one ends at the fetch again, the busy one sends nothing twice.
    sent = len(smtp_server.messages)
    forget_runs(dag)
    assert_served_nobody(run_dag(dag, logical_date=SATURDAY_NOON))
    again = run_dag(dag, logical_date=when)
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert (model_server.calls, len(smtp_server.messages)) == (1, sent)


def test_a_triggered_run_naming_teams_serves_them_when_due_and_ends_at_the_fetch_when_not(
    insights, business_db, model_server
):
    from agentjobs.operators.factory import build_dag
    from agentjobs.sources.sql import fetch_teams

    team_id, period, when = due_team(insights, business_db)
    # Teams whose clock does not read Sunday 09:00 at that hour.
    idle = sorted(
        team.id
        for team, _ in fetch_teams(insights.sources.sql.conn_id)
        if when.astimezone(ZoneInfo(team.timezone)).strftime("%a %H") != "Sun 09"
    )
    assert idle
    dag = build_dag(insights)

    model_server.default_step = respond(top_three)
    named = run_dag(dag, logical_date=when, run_conf={"teams": [team_id]})
    assert xcom(named, "fetch") == [{"team": team_id, "period": period}]
    assert set(team_states(named).values()) == {"success"}, team_states(named)

    # The same hour narrowed to teams it is not Sunday 09:00 for: nobody served, and plainly so.
    forget_runs(dag)
    assert_served_nobody(run_dag(dag, logical_date=when, run_conf={"teams": idle[:2]}))
    assert model_server.calls == 1

"""The spec's `sources.sql` limits reach the fetch task of a real DAG run: a row cap below what
the business database holds fails the fetch before any model call, and the run's alert names
the query, the cap and the spec field that raises it."""

from __future__ import annotations

import pytest

from tests.airflow.conftest import run_dag
from tests.jobs.business import BUSINESS_CONN, team_states
from tests.jobs.kinds.test_batch_notifications import at
from tests.scenarios.test_run_alert import alerts, batch_job

pytestmark = pytest.mark.airflow
__all__ = ["batch_job"]  # the fixture: four teams, three with an event in the 10:05 window


def test_a_row_cap_below_the_teams_fails_the_fetch_naming_the_cap_and_calls_no_model(
    batch_job, model_server, smtp_server, slack_server
):
    from agentjobs.operators.factory import build_dag

    capped = batch_job.model_dump()
    capped["sources"]["sql"] = {"conn_id": BUSINESS_CONN, "row_cap": 3}  # the database has 4 teams
    spec = type(batch_job).model_validate(capped)
    run = run_dag(build_dag(spec), logical_date=at(10, 5))

    assert run.state == "failed"
    assert team_states(run)[("fetch", -1)] == "failed", team_states(run)
    assert model_server.calls == 0
    (alert,) = alerts(smtp_server)
    text = alert.get_body(("plain",)).get_content()
    assert "query 'teams' returned more than 3 rows" in text, text
    assert "sources.sql.row_cap" in text, text

"""anomaly_flags end to end with dag.test() on the generated business database: the planted
anomalies of a day flagged by code and explained by id, a clean day flagged nothing with no
model call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.business import serving_instant, shipped_spec, team_states

pytestmark = pytest.mark.airflow


def explain_every_flag(request):
    schema = request.body["response_format"]["json_schema"]["schema"]
    ids = schema["properties"]["explanations"]["required"]
    answer = {"explanations": {flag: "Check the source system first" for flag in ids}}
    return reply(json.dumps(answer), prompt_tokens=300, completion_tokens=40)


@pytest.fixture
def anomalies(llm_conn, any_business_conn, slack_server):
    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": None, "member_preview": False}
    return shipped_spec("anomaly-flags.yaml", llm_conn, any_business_conn, team_delivery=delivery)


def test_the_planted_anomalies_of_a_day_are_flagged_and_explained(
    anomalies, business_db, model_server, slack_server
):
    from agentjobs.operators.factory import build_dag

    truth = business_db.truth
    duplicate = next(d for d in truth.duplicate_charges if d.day == truth.last_day)
    model_server.default_step = respond(explain_every_flag)
    run = run_dag(
        build_dag(anomalies), logical_date=serving_instant(anomalies, duplicate.team_id, duplicate.day)
    )
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    served = xcom(run, "fetch")
    index = [entry["team"] for entry in served].index(duplicate.team_id)
    text = Path(xcom(run, "team.validate", map_index=index)["artifact"]).read_text()
    assert duplicate.duplicate_id in text, text
    drops = [d for d in truth.order_volume_drops if d.team_id == duplicate.team_id and d.day == duplicate.day]
    for drop in drops:
        assert "orders" in text.lower() and str(drop.orders) in text, text
    # The model was asked about the flagged ids only, one key each: it cannot name another one.
    asked = json.dumps(model_server.requests[index].body["response_format"])
    assert duplicate.duplicate_id in asked
    assert slack_server.server.calls("/api/chat.postMessage") or slack_server.server.calls(
        "/api/files.completeUploadExternal"
    )


def test_a_clean_day_flags_nothing_and_asks_the_model_nothing(anomalies, business_db, model_server):
    from agentjobs.operators.factory import build_dag

    truth = business_db.truth
    clean = next(c for c in truth.clean_days if c.day < truth.last_day)
    run = run_dag(
        build_dag(anomalies),
        logical_date=serving_instant(anomalies, clean.team_id, clean.day),
        run_conf={"teams": [clean.team_id]},
    )
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    validated = xcom(run, "team.validate", map_index=0)
    assert validated["result"]["items"] == 0
    assert "No anomalies found" in Path(validated["artifact"]).read_text()
    assert model_server.calls == 0

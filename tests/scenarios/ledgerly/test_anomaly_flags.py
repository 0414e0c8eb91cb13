"""anomaly_flags on Ledgerly, mapped with YAML only (shop orders, and bank transactions whose
counterparty text is the vendor): each workspace's planted duplicate charge and order-volume drop
of a day are flagged by code and explained by id; a clean day flags nothing and asks no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.jobs.business import team_states
from tests.scenarios.ledgerly.conftest import ledgerly_spec, ledgerly_teams, query, serving_instant
from tests.scenarios.test_anomaly_flags import explain_every_flag

pytestmark = pytest.mark.airflow


@pytest.fixture
def anomalies(llm_conn, ledgerly_conn, slack_server, smtp_server):
    delivery = {"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False}
    return ledgerly_spec("anomaly-flags.yaml", llm_conn, team_delivery=delivery)


def team_of(spec, workspace_id):
    return next(t for t, _ in ledgerly_teams(spec) if t.id == workspace_id)


@pytest.mark.parametrize("currency", ["EUR", "KWD", "JPY"])
def test_the_planted_anomalies_of_a_day_are_flagged_and_explained(
    currency, anomalies, ledgerly_db, model_server, smtp_server
):
    from agentjobs.operators.factory import build_dag
    from tests.fakes.model_server import respond

    truth = ledgerly_db.truth
    duplicate = next(d for d in truth.duplicate_charges if d.currency == currency)
    team = team_of(anomalies, duplicate.workspace_id)
    model_server.default_step = respond(explain_every_flag)
    run = run_dag(build_dag(anomalies), logical_date=serving_instant(anomalies, team, duplicate.day))
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    served = xcom(run, "fetch")
    index = [entry["team"] for entry in served].index(team.id)
    text = Path(xcom(run, "team.validate", map_index=index)["artifact"]).read_text()
    # The repeat is flagged, not the charge it repeats; both exist on the raw table.
    found = query(
        ledgerly_db.engine,
        "SELECT COUNT(*) FROM transactions "
        "WHERE id IN (CAST(:a AS uuid), CAST(:b AS uuid)) AND amount_minor = :m",
        a=duplicate.original_id,
        b=duplicate.duplicate_id,
        m=duplicate.amount_minor,
    )
    assert found[0][0] == 2
    assert duplicate.duplicate_id in text, text
    drops = [d for d in truth.order_volume_drops if (d.workspace_id, d.day) == (team.id, duplicate.day)]
    for drop in drops:
        assert "orders" in text.lower() and str(drop.orders) in text, text
    # The model was asked about the flagged ids only: it cannot name another one.
    asked = json.dumps(model_server.requests[index].body["response_format"])
    assert duplicate.duplicate_id in asked and duplicate.original_id not in asked
    assert smtp_server.messages or not team.email_list


def test_a_clean_day_flags_nothing_and_asks_the_model_nothing(anomalies, ledgerly_db, model_server):
    from agentjobs.operators.factory import build_dag

    clean = ledgerly_db.truth.clean_days[-1]
    team = team_of(anomalies, clean.workspace_id)
    run = run_dag(build_dag(anomalies), logical_date=serving_instant(anomalies, team, clean.day))
    assert set(team_states(run).values()) <= {"success", "skipped"}, team_states(run)
    served = [entry["team"] for entry in xcom(run, "fetch")]
    assert team.id in served
    assert model_server.calls == 0

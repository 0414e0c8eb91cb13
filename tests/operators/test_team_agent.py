"""One team's agent task run by Airflow (a one-task DAG, dag.test(), the test kind team_tally): the
kind's prompt from the team's snapshot reaches the model, the artifact is rendered in code from the
snapshot (not from the model's numbers), an earlier try's artifact never passes for this one, and
a period already delivered is kept as sent without a model call."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from agentjobs.delivery.ledger import DeliveryLedger
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import error, reply
from tests.kinds_plugin.fixtures import SKILLS
from tests.operators.tally import DAG_ID, PERIOD, TEAM, TEAM_RUN, tally_spec, write_snapshot

pytestmark = pytest.mark.airflow

LOGICAL = datetime(2026, 11, 25, 8, tzinfo=UTC)
# The Params a job's DAG has (the factory's): a run's cap overrides and its rerun switches.
PARAMS = {"caps": {}, "resummarize": False, "refetch": False, "force_redeliver": False}


def one_task_dag(spec, suffix: str):
    from airflow.sdk import DAG

    from agentjobs.operators.team_agent import TeamAgentOperator

    with DAG(f"{DAG_ID}_{suffix}", schedule=None, start_date=LOGICAL, catchup=False, params=PARAMS) as dag:
        TeamAgentOperator(
            task_id="summarize", spec=spec, team_run=TEAM_RUN, skills_dir=str(SKILLS), retries=0
        )
    return dag


@pytest.fixture
def spec(installed_kinds, llm_conn, monkeypatch, tmp_path):
    return tally_spec(monkeypatch, tmp_path, llm_conn_id=llm_conn)


def test_the_kinds_prompt_goes_out_and_the_artifact_is_rendered_from_the_snapshot(spec, model_server):
    folder = write_snapshot(4)
    # The model miscounts: the artifact and RESULT still say what the snapshot holds.
    model_server.script(reply(json.dumps({"items": 9, "remark": "A busy day."})))
    run = run_dag(one_task_dag(spec, "ok"), logical_date=LOGICAL)
    pushed = xcom(run, "summarize")
    assert pushed["team"] == TEAM and pushed["period"] == PERIOD
    assert pushed["result"]["items"] == 4
    assert "had 4 transactions yesterday" in model_server.requests[0].body["messages"][-1]["content"]
    text = (folder / "tally.md").read_text()
    assert (
        text.startswith(f"# Team tally — Berlin, {PERIOD}\n")
        and "\n4 transaction(s) yesterday.\n\nA busy day.\n" in text
    )
    assert json.loads((folder / "result.json").read_text()) == pushed["result"]  # kept for a rerun


def test_a_failed_try_leaves_no_earlier_artifact_to_pass_for_its_own(spec, model_server):
    folder = write_snapshot(2)
    (folder / "tally.md").write_text(
        "# Team tally — Berlin, 2026-11-24\n\n2 transaction(s) yesterday.\n\nOld.\n"
    )
    model_server.script(error(400, "bad request"))
    run = run_dag(one_task_dag(spec, "failed"), logical_date=LOGICAL)
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["summarize"] == "failed"
    assert not (folder / "tally.md").exists()


def test_a_period_delivered_already_is_kept_as_sent_without_a_model_call(spec, model_server):
    folder = write_snapshot(2)
    sent = "# Team tally — Berlin, 2026-11-24\n\n2 transaction(s) yesterday.\n\nAs sent.\n"
    (folder / "tally.md").write_text(sent)
    (folder / "result.json").write_text(json.dumps({"items": 2, "remark": "As sent."}))
    ledger = DeliveryLedger.from_conn_id(spec.ledger_conn_id)
    claim = ledger.claim(
        job=f"{DAG_ID}/{TEAM}",
        logical_date=PERIOD,
        channel="email",
        target="team@example.org",
        run_id="scheduled__earlier",
        content_sha256=hashlib.sha256(sent.encode()).hexdigest(),
        force=False,
    )
    ledger.mark_sent(claim, {})

    run = run_dag(one_task_dag(spec, "kept"), logical_date=LOGICAL)
    assert model_server.calls == 0
    assert xcom(run, "summarize")["result"] == {"items": 2, "remark": "As sent."}
    assert (folder / "tally.md").read_text() == sent

    run = run_dag(one_task_dag(spec, "asked"), logical_date=LOGICAL, run_conf={"resummarize": True})
    assert model_server.calls == 1


def test_an_agent_task_copies_its_dags_params_once(spec, monkeypatch):
    # Airflow's wrapper around each __init__ of an operator's class chain deep-copies the DAG's
    # Params again; the agent subclasses skip AgentOperator's and BaseOperator's (init_agent,
    # init_base), so each agent task costs a DAG parse one copy (its own class's), and still gets
    # AgentOperator's set-up.
    import airflow.sdk.bases.operator as airflow_operator
    from airflow.sdk import DAG

    from agentjobs.operators.digest import DigestAgentOperator
    from agentjobs.operators.pii_review import PiiReviewAgentOperator
    from agentjobs.operators.retry import AGENT_RETRY_POLICY
    from agentjobs.operators.team_agent import TeamAgentOperator
    from tests.operators.test_pii_review import digest_spec

    merged = airflow_operator.get_merged_defaults
    copies: list[str] = []

    def counted(*args, **kwargs):
        copies.append("params")
        return merged(*args, **kwargs)

    monkeypatch.setattr(airflow_operator, "get_merged_defaults", counted)
    digest = digest_spec()
    with DAG("param_copies", schedule=None, start_date=LOGICAL, params=PARAMS):
        for build in (
            lambda: TeamAgentOperator(task_id="team", spec=spec, team_run=TEAM_RUN),
            lambda: DigestAgentOperator(task_id="digest", spec=digest),
            lambda: PiiReviewAgentOperator(task_id="review", spec=digest),
        ):
            copies.clear()
            task = build()
            assert len(copies) == 1, task.task_id
            assert task.params["resummarize"] is False
            assert task.retry_policy is AGENT_RETRY_POLICY and task.skill and task.llm_conn_id
            assert task.spec in (spec, digest) and task.caps is not None

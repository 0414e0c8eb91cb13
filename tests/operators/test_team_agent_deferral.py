"""A team's agent task waiting for the rate limiter defers, and its resume finishes the team's own
work (the artifact rendered, the team's XCom) with the calls already paid for replayed."""

from __future__ import annotations

import json

import pytest

from agentjobs.agent.rate_limiter import Limits, RateLimiter
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply
from tests.kinds_plugin.fixtures import SKILLS
from tests.operators.tally import DAG_ID, PERIOD, TEAM, TEAM_RUN, tally_spec, write_snapshot
from tests.operators.test_agent_deferral import _WaitsStore
from tests.operators.test_team_agent import LOGICAL, PARAMS

pytestmark = pytest.mark.airflow


def test_a_team_task_defers_for_the_limiter_and_the_resume_renders_its_artifact(
    installed_kinds, llm_conn, model_server, monkeypatch, tmp_path
):
    from airflow.sdk import DAG

    from agentjobs.hooks.llm import LLMHook
    from agentjobs.operators.team_agent import TeamAgentOperator

    spec = tally_spec(monkeypatch, tmp_path, llm_conn_id=llm_conn)
    store = _WaitsStore(0.0, 2.0)  # the repair turn's slot is 2 s away
    limiter = RateLimiter(Limits(requests_per_minute=30), store, jitter=lambda wait: wait)
    monkeypatch.setattr(LLMHook, "limiter", property(lambda self: limiter))
    folder = write_snapshot(3)
    # The first answer breaks the contract; its repair turn waits for the limiter.
    model_server.script(reply("not json"), reply(json.dumps({"items": 3, "remark": "Calm."})))
    with DAG(f"{DAG_ID}_defer", schedule=None, start_date=LOGICAL, catchup=False, params=PARAMS) as dag:
        TeamAgentOperator(
            task_id="summarize",
            spec=spec,
            team_run=TEAM_RUN,
            skills_dir=str(SKILLS),
            retries=0,
            defer_waits_from_s=1.0,
        )
    run = run_dag(dag, logical_date=LOGICAL)
    pushed = xcom(run, "summarize")
    assert pushed["team"] == TEAM and pushed["period"] == PERIOD and pushed["result"]["items"] == 3
    assert pushed["usage"]["iterations"] == 2 and model_server.calls == 2  # the first answer replayed
    assert "Calm." in (folder / "tally.md").read_text()
    events = [json.loads(line)["event"] for line in (folder / "transcript.jsonl").read_text().splitlines()]
    assert events.count("waiting") == 1 and events.count("replayed") == 1

"""A chunk's summarize and the rate limiter's long waits: a waiting team gives its thread to the
next team, and when every team left waits, the chunk defers to the triggerer as a single team's
task does; back from it, each team's outcome is there and no call is paid twice."""

from __future__ import annotations

import json

import pytest

from agentjobs.agent.rate_limiter import Limits, RateLimiter
from agentjobs.jobs.kinds.base import PeriodRef, TeamSnapshot
from agentjobs.jobs.team_run import snapshot_path, team_dir
from agentjobs.sources.teams import Team
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply
from tests.kinds_plugin.fixtures import SKILLS
from tests.operators.tally import DAG_ID, PERIOD, TEAM, TEAM_RUN, tally_spec, write_snapshot
from tests.operators.test_agent_deferral import _WaitsStore
from tests.operators.test_team_agent import LOGICAL, PARAMS

pytestmark = pytest.mark.airflow

OTHER = "team-lisbon"


def write_other_snapshot() -> None:
    """A second team's snapshot beside write_snapshot's team, for the same period."""
    from datetime import UTC, datetime

    team = Team(id=OTHER, name="Lisbon", timezone="UTC", currency="EUR")
    period = PeriodRef(
        key=PERIOD, start=datetime(2026, 11, 24, tzinfo=UTC), end=datetime(2026, 11, 25, tzinfo=UTC)
    )
    snapshot = TeamSnapshot(
        kind="team_tally", team=team, period=period, tables={"transactions": [{"id": 1}, {"id": 2}]}
    )
    path = snapshot_path(team_dir(DAG_ID, OTHER, PERIOD))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(snapshot.model_dump_json())


def events(folder) -> list[str]:
    return [json.loads(line)["event"] for line in (folder / "transcript.jsonl").read_text().splitlines()]


def test_a_chunk_whose_teams_all_wait_defers_and_its_resume_keeps_every_teams_outcome(
    installed_kinds, llm_conn, model_server, monkeypatch, tmp_path
):
    from airflow.sdk import DAG

    from agentjobs.hooks.llm import LLMHook
    from agentjobs.operators import team_chunk
    from agentjobs.operators.team_chunk import TEAMS_KEY, ChunkAgentOperator

    deferrals: list[float] = []

    def deferral(wait_s, now):
        deferrals.append(wait_s)
        return team_chunk_wait_deferral(wait_s, now)

    team_chunk_wait_deferral = team_chunk.wait_deferral
    monkeypatch.setattr(team_chunk, "wait_deferral", deferral)

    spec = tally_spec(monkeypatch, tmp_path, llm_conn_id=llm_conn)
    # The first team's slot is 4 s away: it is set aside, the second team goes (no wait), and
    # then the only team left waits: the chunk defers rather than sleep in its worker slot.
    store = _WaitsStore(4.0)
    limiter = RateLimiter(Limits(requests_per_minute=30), store, jitter=lambda wait: wait)
    monkeypatch.setattr(LLMHook, "limiter", property(lambda self: limiter))
    first = write_snapshot(3)
    write_other_snapshot()
    second = team_dir(DAG_ID, OTHER, PERIOD)
    model_server.script(
        reply(json.dumps({"items": 2, "remark": "Lisbon calm."})),
        reply(json.dumps({"items": 3, "remark": "Berlin calm."})),
    )
    with DAG(f"{DAG_ID}_chunk_defer", schedule=None, start_date=LOGICAL, catchup=False, params=PARAMS) as dag:
        ChunkAgentOperator(
            task_id="summarize",
            spec=spec,
            team_runs=[TEAM_RUN, {"team": OTHER, "period": PERIOD}],
            concurrency=2,
            skills_dir=str(SKILLS),
            retries=0,
            defer_waits_from_s=1.0,
        )
    run = run_dag(dag, logical_date=LOGICAL)
    outcomes = xcom(run, "summarize", key=TEAMS_KEY)
    assert outcomes[TEAM]["result"]["items"] == 3 and outcomes[OTHER]["result"]["items"] == 2
    assert len(deferrals) == 1 and 1.0 <= deferrals[0] <= 4.0  # the chunk deferred once, not slept
    assert model_server.calls == 2  # the second team's answer replayed after the resume, not asked again
    assert "Berlin calm." in (first / "tally.md").read_text()
    assert "Lisbon calm." in (second / "tally.md").read_text()
    assert events(first).count("waiting") == 1
    assert events(second).count("replayed") == 1

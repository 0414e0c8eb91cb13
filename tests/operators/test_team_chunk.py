"""The parts of a chunk's tasks that keep its teams apart: each team's share of the task state
store, its own XCom pushes, the teams a step hands on, and the one failure naming the teams."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agentjobs.agent.errors import BudgetExceeded, PermanentAgentError, TransientAgentError
from agentjobs.operators.team_chunk import (
    TeamsFailed,
    TeamsFailedPermanently,
    _TeamStore,
    _TeamTI,
    chunk_failure,
    for_each_team,
)
from agentjobs.operators.team_task import TeamContext

log = logging.getLogger(__name__)


class Store:
    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value):
        self.data[key] = value

    def delete(self, key):
        self.data.pop(key, None)


def test_each_team_keeps_its_spend_under_its_own_keys_of_the_chunks_store():
    store = Store()
    one, two = _TeamStore(store, "t1"), _TeamStore(store, "t2")
    one.set("agentjobs_spend", {"iterations": 1})
    two.set("agentjobs_spend", {"iterations": 4})
    assert (one.get("agentjobs_spend"), two.get("agentjobs_spend")) == ({"iterations": 1}, {"iterations": 4})
    assert sorted(store.data) == ["t1:agentjobs_spend", "t2:agentjobs_spend"]
    one.delete("agentjobs_spend")
    assert one.get("agentjobs_spend", "gone") == "gone" and two.get("agentjobs_spend") is not None


def test_a_teams_xcom_push_is_kept_for_the_chunk_and_the_rest_is_the_task_instance():
    class TI:
        map_index = 2

        def xcom_push(self, key, value):
            raise AssertionError("a team must not overwrite the chunk's XCom")

    ti = _TeamTI(TI())
    ti.xcom_push("usage", {"iterations": 1})
    assert ti.pushed == {"usage": {"iterations": 1}} and ti.map_index == 2


def test_the_chunks_failure_names_every_failed_team_and_retries_only_when_one_may_recover():
    permanent = chunk_failure({"t2": PermanentAgentError("400 bad request")}, 3, "summarize")
    assert isinstance(permanent, TeamsFailedPermanently)
    assert str(permanent) == "1 of 3 teams failed to summarize: t2: PermanentAgentError: 400 bad request"
    mixed = chunk_failure(
        {"t1": TransientAgentError("429"), "t3": BudgetExceeded("max_total_tokens", 100, 120)}, 3, "summarize"
    )
    assert isinstance(mixed, TeamsFailed) and not isinstance(mixed, TeamsFailedPermanently)
    assert str(mixed).startswith("2 of 3 teams failed to summarize: t1: TransientAgentError: 429; t3: ")


def team(team_id: str) -> TeamContext:
    return TeamContext("job", None, None, team_id, "2026-11-29", Path("/nowhere") / team_id)  # type: ignore[arg-type]


def test_a_step_handles_only_the_teams_handed_on_and_one_failure_does_not_stop_the_others():
    handed = {
        "t1": {"result": {}},
        "t2": {"team": "t2", "error": "PermanentAgentError"},
        "t4": {"result": {}},
    }
    seen = []

    def work(t: TeamContext, given: dict) -> dict:
        seen.append(t.team_id)
        if t.team_id == "t1":
            raise ValueError("t1 fails its check")
        return {"team": t.team_id}

    done, failed = for_each_team([team("t1"), team("t2"), team("t3"), team("t4")], handed, work, log)
    assert seen == ["t1", "t4"]  # t2's summarize failed, t3 was handed nothing
    assert done == {"t4": {"team": "t4"}}
    assert list(failed) == ["t1"] and isinstance(failed["t1"], ValueError)


@pytest.mark.parametrize("bad", [{"team": "t1", "period": "2026-11-29"}, None])
def test_a_chunk_task_given_no_list_says_what_it_expected(bad):
    from agentjobs.jobs.spec import JobSpec
    from agentjobs.operators.team_chunk import chunk_contexts

    with pytest.raises(ValueError, match="expected a chunk"):
        chunk_contexts(JobSpec.model_construct(), bad)


def test_teams_run_side_by_side_only_where_the_supervisor_channel_takes_several_threads(monkeypatch):
    from airflow.sdk.execution_time import task_runner

    from agentjobs.operators.team_chunk import comms_thread_safe

    class Worker:  # a worker's CommsDecoder locks its socket
        _thread_lock = object()

    class InProcess:  # dag.test()'s stand-in swaps the module's global per call
        pass

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", Worker(), raising=False)
    assert comms_thread_safe()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", InProcess())
    assert not comms_thread_safe()

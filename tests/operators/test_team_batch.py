"""The batch task of `mode: batch` on its own (the test kind team_tally): it sends a team once
whatever its retries, waits on the batch it sent, leaves each team's answer in its folder, sends
a changed request again, refuses a loop-mode skill before sending anything, and sends its teams
online when the endpoint has no Batch API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openai
import pytest

from agentjobs.agent.batch_client import BatchApi
from agentjobs.agent.errors import PermanentAgentError
from agentjobs.jobs.team_batch import read_answer, read_submission
from tests.fakes.model_server import error, reply
from tests.kinds_plugin.fixtures import SKILLS
from tests.operators.tally import TEAM, TEAM_RUN, tally_spec, write_snapshot

pytestmark = pytest.mark.airflow
CONTEXT = {"params": {"caps": {}, "resummarize": False, "refetch": False}, "run_id": "manual__1"}


@pytest.fixture
def spec(installed_kinds, llm_conn, monkeypatch, tmp_path):
    return tally_spec(monkeypatch, tmp_path, llm_conn_id=llm_conn, mode="batch")


def batch_task(spec, skills: Path = SKILLS):
    from agentjobs.operators.team_batch import TeamBatchOperator

    return TeamBatchOperator(task_id="batch", spec=spec, team_runs=[TEAM_RUN], skills_dir=str(skills))


def deferred_on(task) -> list[str]:
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        task.run(CONTEXT)
    assert deferred.value.method_name == "collect"
    return deferred.value.trigger.batch_ids


def finish(model_server, batch_id: str) -> None:
    with openai.OpenAI(base_url=model_server.base_url, api_key="sk", max_retries=0) as sdk:
        while not BatchApi(sdk).status(batch_id).final:
            pass


def test_a_team_is_sent_once_whatever_the_tries_and_its_answer_lands_in_its_folder(spec, model_server):
    folder = write_snapshot(3)
    fake = model_server.batch_api
    fake.answer = lambda key, body: reply(json.dumps({"items": 3, "remark": "Fine."}))
    task = batch_task(spec)
    (batch_id,) = deferred_on(task)
    assert read_submission(folder).batch_id == batch_id
    (line,) = fake.input_lines(batch_id)
    assert "had 3 transactions yesterday" in line["body"]["messages"][-1]["content"]
    assert line["body"]["response_format"]["type"] == "json_schema"
    # A retry (or a clear) before the batch is done waits on the same batch; nothing is sent again.
    assert deferred_on(batch_task(spec)) == [batch_id] and list(fake.batches) == [batch_id]
    finish(model_server, batch_id)
    summary = batch_task(spec).run(CONTEXT)
    assert summary["answered"] == [TEAM] and summary["online"] == []
    answer = read_answer(folder)
    assert answer.outcome == "answered" and answer.batch_id == batch_id
    assert json.loads(answer.completion["choices"][0]["message"]["content"])["remark"] == "Fine."
    # Once collected, a rerun finds the answer: no batch, no wait.
    assert batch_task(spec).run(CONTEXT)["batches"] == [] and list(fake.batches) == [batch_id]
    assert model_server.calls == 0


def test_a_team_whose_request_changed_is_sent_again(spec, model_server):
    folder = write_snapshot(3)
    (first,) = deferred_on(batch_task(spec))
    write_snapshot(5)  # a refetch read other rows: the stored request is not this one
    (second,) = deferred_on(batch_task(spec))
    assert second != first and read_submission(folder).batch_id == second
    (line,) = model_server.batch_api.input_lines(second)
    assert "had 5 transactions" in line["body"]["messages"][-1]["content"]


def test_a_loop_mode_skill_is_refused_before_anything_is_sent(spec, model_server, tmp_path):
    from agentjobs.operators.factory import build_dag

    write_snapshot(3)
    skills = tmp_path / "skills"
    shutil.copytree(SKILLS, skills)
    skill_file = skills / "team-tally" / "SKILL.md"
    skill_file.write_text(skill_file.read_text().replace("mode: structured", "mode: loop"))
    with pytest.raises(PermanentAgentError, match=r"mode: batch, but skill 'team-tally' runs in loop mode"):
        batch_task(spec, skills).run(CONTEXT)
    with pytest.raises(ValueError, match="only a structured skill can use it"):
        build_dag(spec, skills)
    assert model_server.batch_api.requests == []


def test_an_endpoint_without_a_batch_api_sends_the_teams_online_saying_so_once(spec, model_server, capfd):
    folder = write_snapshot(3)
    fake = model_server.batch_api
    fake.refuse = {"files": error(404, "File Not Found")}
    summary = batch_task(spec).run(CONTEXT)  # no deferral: there is nothing to wait for
    assert summary["online"] == [TEAM] and summary["answered"] == [] and summary["batches"] == []
    note = summary["fallback"]
    assert f"{model_server.base_url}/files refused the batch (HTTP 404: File Not Found)" in note
    assert "fell back to online calls for 1 team(s)" in summary["fallback"]
    warnings = [line for line in capfd.readouterr().out.splitlines() if "[warning" in line]
    assert len(warnings) == 1 and summary["fallback"] in warnings[0]
    answer = read_answer(folder)
    assert answer.outcome == "not_sent" and answer.error == summary["fallback"]
    assert read_submission(folder) is None and fake.batches == {}
    # A retry asks the endpoint again (it may have gained a Batch API) and falls back the same way.
    assert batch_task(spec).run(CONTEXT)["online"] == [TEAM]
    assert model_server.calls == 0  # the online calls are the summarize tasks'

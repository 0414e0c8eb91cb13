"""What a team asks its model (the test kind team_tally): the kind's prompt over the team's
snapshot, a batch job's call structured, and a period already done kept with no plan to run."""

from __future__ import annotations

import json

import pytest

from agentjobs.agent.skills import load_skill
from agentjobs.operators.team_plan import kept_plan, run_mode, team_plan
from agentjobs.operators.team_task import team_context
from tests.kinds_plugin.fixtures import SKILLS
from tests.operators.tally import TEAM_RUN, tally_spec, write_snapshot


@pytest.fixture
def spec(installed_kinds, monkeypatch, tmp_path):
    return tally_spec(monkeypatch, tmp_path)


def test_a_batch_jobs_call_is_structured_and_any_other_keeps_the_spec_or_the_skill(spec):
    skill = load_skill("team-tally", SKILLS)
    assert run_mode(spec.model_copy(update={"mode": "batch"}), skill) == "structured"
    assert run_mode(spec.model_copy(update={"mode": "loop"}), skill) == "loop"
    assert run_mode(spec, skill) == skill.mode


def test_the_plan_is_the_kinds_over_the_teams_snapshot(spec):
    write_snapshot(4)
    team = team_context(spec, TEAM_RUN)
    plan = team_plan(spec, team, team.snapshot(), "structured")
    assert plan.mode == "structured" and "had 4 transactions yesterday" in plan.prompt
    assert plan.data["snapshot"] == team.snapshot() and "pseudonyms" in plan.data


def test_a_period_done_is_kept_without_a_plan_to_run(spec):
    import logging

    folder = write_snapshot(2)
    team = team_context(spec, TEAM_RUN)
    params = {"resummarize": False, "refetch": False}
    log = logging.getLogger("test")
    assert kept_plan(spec, team, team.snapshot(), folder, params, log, "structured") is None
    from agentjobs.delivery.deliver import sha256_file
    from agentjobs.operators.delivered import NOWHERE, result_sha256

    result = {"items": 2, "remark": "Kept."}
    (folder / "tally.md").write_text(
        "# Team tally — Berlin, 2026-11-24\n\n2 transaction(s) yesterday.\n\nKept.\n"
    )
    (folder / "result.json").write_text(json.dumps(result))
    done = {
        "artifact": "tally.md",
        "sha256": sha256_file(folder / "tally.md"),
        "result_sha256": result_sha256(result),
        "done": NOWHERE,
    }
    (folder / "done.json").write_text(json.dumps(done))
    kept = kept_plan(spec, team, team.snapshot(), folder, params, log, "structured")
    assert kept is not None and kept.answer == result and kept.data["kept"]
    assert "had nowhere to be delivered" in kept.answer_reason

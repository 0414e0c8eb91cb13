"""What a team of a fan-out job asks its model, shared by its summarize task and the batch task.

`team_plan` is the kind's plan over the team's snapshot (personal data as pseudonyms), `kept_plan`
the plan of a period already done (its RESULT kept, no call: operators/delivered.py), and
`run_mode` how the call is made. The summarize task (team_agent.py) runs the plan; with
`mode: batch` the batch task (team_batch.py) sends the same request for every team at once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentjobs.agent.plan import RunPlan
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.delivered import APPLIED, DELIVERED, NOWHERE, kept_team_result
from agentjobs.operators.team_task import TeamContext

if TYPE_CHECKING:
    from agentjobs.agent.skills import Skill
    from agentjobs.jobs.kinds.base import TeamSnapshot

WHY_KEPT = {
    DELIVERED: "was delivered: kept as sent",
    APPLIED: "had its writes applied: kept as applied",
    NOWHERE: "was validated and had nowhere to be delivered: kept",
}


def run_mode(spec: JobSpec, skill: Skill) -> Literal["loop", "structured"]:
    """How the team's model call is made: a batch job's is structured (one request a team)."""
    if spec.mode == "batch":
        return "structured"
    return spec.mode or skill.mode


def kept_plan(
    spec: JobSpec, team: TeamContext, snapshot: TeamSnapshot, work_dir: Path, params: Any, log: Any, mode: Any
) -> RunPlan | None:
    """The plan of a team whose period is done (operators/delivered.py): its kept RESULT, no call."""
    job, day = team.ledger_key()
    kept = kept_team_result(spec, day, work_dir, params, log, artifact_file=team.kind.artifact_file, job=job)
    if kept is None:
        return None
    answer, how = kept
    return RunPlan(
        prompt="",
        mode=mode,
        answer=answer,
        answer_reason=f"{team.kind.artifact_file} of {team.team_id} {team.period_key} {WHY_KEPT[how]}",
        data={"snapshot": snapshot, "kept": True},
    )


def team_plan(spec: JobSpec, team: TeamContext, snapshot: TeamSnapshot, mode: Any) -> RunPlan:
    """What the team's model is asked: the kind's plan over the snapshot, personal data as
    pseudonyms (render and check get the real snapshot; `finish` puts the real values back)."""
    data: dict[str, Any] = {"snapshot": snapshot}
    mapping = spec.sources.sql.inputs if spec.sources.sql else {}
    # Run time only: the PII detector's patterns cost a DAG parse milliseconds.
    from agentjobs.jobs.inputs import kind_inputs, personal_columns
    from agentjobs.jobs.pseudonyms import pseudonymize

    inputs = kind_inputs(team.kind)
    view, data["pseudonyms"] = pseudonymize(snapshot, inputs, personal_columns(inputs, mapping))
    plan = team.kind.plan(view, team.settings, mode)
    return dataclasses.replace(plan, mode=mode, data={**plan.data, **data})

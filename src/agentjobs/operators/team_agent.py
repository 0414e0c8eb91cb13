"""TeamAgentOperator: the AgentOperator for one team of a fan-out job, with its kind's plan.

The kind gives the prompt, the schema (structured mode) or the read-only tools (loop mode),
and renders the artifact in code from the snapshot and the answer. A rerun of a team's
period that is done (delivered, its writes applied, or validated with nowhere to deliver:
operators/delivered.py) keeps the artifact and its RESULT, without a model call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentjobs.atomic_file import write_atomically
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.agent import AgentOperator, init_agent
from agentjobs.operators.delivered import APPLIED, DELIVERED, NOWHERE, kept_team_result, write_result
from agentjobs.operators.job_task import agent_defaults
from agentjobs.operators.team_task import TeamTask

if TYPE_CHECKING:
    from agentjobs.agent.plan import RunPlan
    from agentjobs.agent.skills import Skill  # annotations only: its module is run-time

WHY_KEPT = {
    DELIVERED: "was delivered: kept as sent",
    APPLIED: "had its writes applied: kept as applied",
    NOWHERE: "was validated and had nowhere to be delivered: kept",
}


class TeamAgentOperator(TeamTask, AgentOperator):
    template_fields: Sequence[str] = (*AgentOperator.template_fields, "team_run")

    def __init__(self, *, spec: JobSpec, team_run: Any, **kwargs: Any) -> None:
        # A team's empty period is a normal run of these jobs: the kind's artifact says so.
        init_agent(self, **agent_defaults(spec, kwargs, skill=spec.skill, allow_empty=True))
        self.spec = spec
        self.team_run = team_run

    def work_folder(self, context: Any) -> Path:
        return self.team_context().work_dir  # its team's only: other teams' tasks run beside it

    def run_agent(self, context: Any) -> dict[str, Any]:
        team = self.team_context()
        pushed = super().run_agent(context)
        write_result(team.work_dir, pushed["result"])
        return {**pushed, "team": team.team_id, "period": team.period_key}

    def prepare(self, context: Any, skill: Skill, work_dir: Path) -> RunPlan:
        from agentjobs.agent.plan import RunPlan  # run time: a DAG parse plans no run

        team = self.team_context()
        kind, team_id, period_key = team.kind, team.team_id, team.period_key
        snapshot = team.snapshot()
        mode = self.spec.mode or skill.mode
        data: dict[str, Any] = {"snapshot": snapshot}
        job, day = team.ledger_key()
        kept = kept_team_result(
            self.spec,
            day,
            work_dir,
            context["params"],
            self.log,
            artifact_file=kind.artifact_file,
            job=job,
        )
        if kept is not None:
            answer, how = kept
            return RunPlan(
                prompt="",
                mode=mode,
                answer=answer,
                answer_reason=f"{kind.artifact_file} of {team_id} {period_key} {WHY_KEPT[how]}",
                data={**data, "kept": True},
            )
        (work_dir / kind.artifact_file).unlink(missing_ok=True)  # an earlier try's must not pass for this one
        # The model and the plan's tools see pseudonyms for personal data; render and check get
        # the real snapshot, and `finish` puts the real values back into the answer.
        mapping = self.spec.sources.sql.inputs if self.spec.sources.sql else {}
        # Run time only: the PII detector's patterns cost a DAG parse milliseconds.
        from agentjobs.jobs.inputs import kind_inputs, personal_columns
        from agentjobs.jobs.pseudonyms import pseudonymize

        inputs = kind_inputs(kind)
        view, data["pseudonyms"] = pseudonymize(snapshot, inputs, personal_columns(inputs, mapping))
        plan = kind.plan(view, team.settings, mode)
        return dataclasses.replace(plan, mode=mode, data={**plan.data, **data})

    def finish(self, result: dict[str, Any], plan: RunPlan, work_dir: Path, context: Any) -> dict[str, Any]:
        if plan.data.get("kept"):
            return result
        team = self.team_context()
        collect = plan.collect
        answer = {**result, **collect()} if collect is not None else result
        answer = plan.data["pseudonyms"].restore(answer)
        rendered = team.kind.render(plan.data["snapshot"], answer, team.settings, self.spec.title)
        write_atomically(work_dir / team.kind.artifact_file, rendered.markdown)
        return rendered.result

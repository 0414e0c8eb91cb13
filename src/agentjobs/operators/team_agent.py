"""TeamAgentOperator: the AgentOperator for one team of a fan-out job, with its kind's plan.

The kind gives the prompt, the schema (structured mode) or the read-only tools (loop mode),
and renders the artifact in code from the snapshot and the answer. A rerun of a team's
period that is done (delivered, its writes applied, or validated with nowhere to deliver:
operators/delivered.py) keeps the artifact and its RESULT, without a model call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.agent import AgentOperator, init_agent
from agentjobs.operators.job_task import agent_defaults
from agentjobs.operators.team_task import TeamTask

if TYPE_CHECKING:
    from agentjobs.agent.plan import RunPlan
    from agentjobs.agent.skills import Skill  # annotations only: its module is run-time


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
        from agentjobs.operators.delivered import write_result

        team = self.team_context()
        pushed = super().run_agent(context)
        write_result(team.work_dir, pushed["result"])
        return {**pushed, "team": team.team_id, "period": team.period_key}

    def prepare(self, context: Any, skill: Skill, work_dir: Path) -> RunPlan:
        # Run time: a DAG parse plans no run (team_plan loads agent.plan and the kept-result rules).
        from agentjobs.operators.team_plan import kept_plan, run_mode, team_plan

        team = self.team_context()
        mode = run_mode(self.spec, skill)
        snapshot = team.snapshot()  # a team whose rows broke their contract fails here, first
        kept = kept_plan(self.spec, team, snapshot, work_dir, context["params"], self.log, mode)
        if kept is not None:
            return kept
        # An earlier try's artifact must not pass for this one.
        (work_dir / team.kind.artifact_file).unlink(missing_ok=True)
        plan = team_plan(self.spec, team, snapshot, mode)
        if self.spec.mode == "batch":
            from agentjobs.operators.team_batch import with_batch_answer

            plan = with_batch_answer(plan, work_dir, self.log)
        return plan

    def finish(self, result: dict[str, Any], plan: RunPlan, work_dir: Path, context: Any) -> dict[str, Any]:
        if plan.data.get("kept"):
            return result
        return render_team(self.spec, self.team_context(), result, plan, work_dir)


def render_team(
    spec: JobSpec, team: Any, result: dict[str, Any], plan: RunPlan, work_dir: Path
) -> dict[str, Any]:
    """The kind's artifact rendered into `work_dir` from the model's answer (what the plan's tools
    gathered merged in, pseudonyms made real again), and its RESULT: the summarize task's and a
    replay evaluation's (cli/rerun.py) alike."""
    from agentjobs.atomic_file import write_atomically

    collect = plan.collect
    answer = {**result, **collect()} if collect is not None else result
    answer = plan.data["pseudonyms"].restore(answer)
    rendered = team.kind.render(plan.data["snapshot"], answer, team.settings, spec.title)
    write_atomically(work_dir / team.kind.artifact_file, rendered.markdown)
    return rendered.result

"""The chunk tasks of the steps some kinds have between validate and deliver: apply (the kind's
writes to the business database) and publish (the report's PDF, stored once).

Each does, for each team of its chunk, what the per-team task does for one, by calling that
operator's own per-team method (`apply_team`, `publish_team`), so the rules stay in one place:
- apply's write is the kind's idempotent one (a record is written once whatever reruns: a retry
  of the chunk writes again only what an earlier try did not) and leaves the team's done.json;
- publish stores each team's PDF through its own ledger row (channel `report`), so a retry or a
  clear of the chunk stores nothing twice.
Like validate and deliver (operators/team_chunk.py) they run when the step before is done
(`all_done`), handle only the teams that step handed on, and fail at the end naming the teams
that failed here, so a team whose write fails leaves its chunk's other teams written and
delivered, and the run's alert names it.

A person's review is one HITL task per team; a spec with a review on takes no chunks (jobs/spec.py).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule

from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.team_apply import TeamApplyOperator
from agentjobs.operators.team_chunk import (
    ChunkStep,
    chunk_contexts,
    chunk_outcome,
    for_each_team,
    handed_on,
    pulled_teams,
)
from agentjobs.operators.team_publish import TeamPublishOperator
from agentjobs.operators.team_task import TeamContext
from agentjobs.operators.team_validated import unchanged_artifact


class ChunkApplyOperator(ChunkStep, TeamApplyOperator):
    """apply for a chunk: each validated team's writes, in its own transaction."""

    def __init__(self, *, spec: JobSpec, team_runs: Any, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(spec=spec, team_run=None, **kwargs)
        self.team_runs = team_runs

    def run(self, context: Any) -> dict[str, Any]:
        teams = chunk_contexts(self.spec, self.team_runs)
        validated = pulled_teams(context, self.validate_task_id)
        done, failed = for_each_team(teams, validated, self.apply_team, self.log)
        return chunk_outcome(context, done, failed, len(teams), "apply")


class ChunkPublishOperator(ChunkStep, TeamPublishOperator):
    """publish for a chunk: each team's PDF stored once and its message written."""

    def __init__(
        self, *, spec: JobSpec, team_runs: Any, previous_task_id: str = "team.validate", **kwargs: Any
    ) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(spec=spec, team_run=None, **kwargs)
        self.team_runs = team_runs
        self.previous_task_id = previous_task_id  # apply's, when the kind writes too

    def run(self, context: Any) -> dict[str, Any]:
        teams = chunk_contexts(self.spec, self.team_runs)
        validated = handed_on(context, self.validate_task_id, self.previous_task_id)

        def publish(team: TeamContext, handed: dict[str, Any]) -> dict[str, Any]:
            return self.publish_team(team, handed, unchanged_artifact(handed), context)

        done, failed = for_each_team(teams, validated, publish, self.log)
        return chunk_outcome(context, done, failed, len(teams), "publish")

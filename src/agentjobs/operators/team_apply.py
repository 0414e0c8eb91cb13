"""TeamApplyOperator: a kind's validated writes to the business database, after validate, before deliver.

Only kinds with an `apply` method get this task (enrichment). It writes what the validate task
passed, from validate's XCom, through the `sql` source's connection; the kind's write is
idempotent (e.g. `... WHERE enriched_at IS NULL`), so a retry, clear or backfill writes a
record at most once. A spec that maps write targets (`sources.sql.writes`) hands them to the
kind as `writes=` (jobs/writes.SpecWrites); a spec that maps none calls apply as before.
Once the writes committed, `done.json` beside the artifact says so, so a clear of the run keeps
the summary they were made from instead of asking the model again (operators/delivered.py).
"""

from __future__ import annotations

from typing import Any

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.kinds.base import CheckFailed
from agentjobs.jobs.spec import JobSpec
from agentjobs.jobs.writes import SpecWrites
from agentjobs.operators.base_init import init_base
from agentjobs.operators.team_task import TeamContext, TeamTaskOperator, sql_conn_id
from agentjobs.operators.team_validate import ArtifactUnsupported


class TeamApplyOperator(TeamTaskOperator):
    ui_color = "#f3e8fd"

    def __init__(
        self, *, spec: JobSpec, team_run: Any, validate_task_id: str = "team.validate", **kwargs: Any
    ) -> None:
        init_base(self, **kwargs)
        self.spec, self.team_run = spec, team_run
        self.conn_id = sql_conn_id(spec)
        self.validate_task_id = validate_task_id

    def run(self, context: Any) -> dict[str, Any]:
        from agentjobs.operators.team_validated import pull_validated

        team = self.team_context()
        return self.apply_team(team, pull_validated(context, self.validate_task_id, team.team_id))

    def apply_team(self, team: TeamContext, validated: dict[str, Any]) -> dict[str, Any]:
        """Write `team`'s validated RESULT (a chunk's apply calls it once per team); the kind's
        write is idempotent, so calling it again for a team written before writes nothing."""
        from agentjobs.operators.delivered import APPLIED, write_done
        from agentjobs.sources.sql import connection_engine

        team_id, period_key = team.team_id, team.period_key
        snapshot = team.snapshot()
        writes = SpecWrites.of(self.spec.sources.sql)
        mapped = {"writes": writes} if writes.mapping else {}
        try:
            outcome = team.kind.apply(
                snapshot, validated["result"], team.settings, connection_engine(self.conn_id), **mapped
            )
        except CheckFailed as exc:
            raise ArtifactUnsupported(f"{team_id} {period_key}: not written: {exc}") from None
        self.log.info("%s %s: %s", team_id, period_key, {k: len(v) for k, v in outcome.items()})
        write_done(team.work_dir, validated, APPLIED)
        return {"team": team_id, "period": period_key, **outcome}

"""TeamApplyOperator: a kind's validated writes to the business database, after validate, before deliver.

Only kinds with an `apply` method get this task (enrichment). It writes what the validate task
passed, from validate's XCom, through the `sql` source's connection; the kind's write is
idempotent (e.g. `... WHERE enriched_at IS NULL`), so a retry, clear or backfill writes a
record at most once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentjobs.jobs.kinds.base import CheckFailed
from agentjobs.jobs.kinds.registry import fan_out_kind
from agentjobs.jobs.spec import JobSpec
from agentjobs.jobs.team_run import load_snapshot, team_dir, team_key
from agentjobs.operators.job_task import JobTaskOperator
from agentjobs.operators.team_validate import ArtifactUnsupported
from agentjobs.operators.team_validated import pull_validated


class TeamApplyOperator(JobTaskOperator):
    template_fields: Sequence[str] = ("team_run",)
    ui_color = "#f3e8fd"

    def __init__(
        self, *, spec: JobSpec, team_run: Any, validate_task_id: str = "team.validate", **kwargs: Any
    ) -> None:
        super().__init__(spec=spec, **kwargs)
        if spec.sources.sql is None:
            raise ValueError(f"job {spec.dag_id!r} has no sql source")
        self.conn_id = spec.sources.sql.conn_id
        self.team_run = team_run
        self.validate_task_id = validate_task_id

    def run(self, context: Any) -> dict[str, Any]:
        from agentjobs.sources.sql import connection_engine

        kind, settings = fan_out_kind(self.spec.kind), self.spec.kind_settings()
        team_id, period_key = team_key(self.team_run)
        validated = pull_validated(context, self.validate_task_id, team_id)
        snapshot = load_snapshot(team_dir(self.spec.dag_id, team_id, period_key))
        try:
            outcome = kind.apply(snapshot, validated["result"], settings, connection_engine(self.conn_id))
        except CheckFailed as exc:
            raise ArtifactUnsupported(f"{team_id} {period_key}: not written: {exc}") from None
        self.log.info("%s %s: %s", team_id, period_key, {k: len(v) for k, v in outcome.items()})
        return {"team": team_id, "period": period_key, **outcome}

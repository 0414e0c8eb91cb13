"""TeamValidateOperator: check one team's artifact against its snapshot, then hand it to delivery.

A check failure (a number the data does not support, a flag left unexplained) is permanent:
the same artifact would fail again, so the task fails at once with one alert, no retry.
"""

from __future__ import annotations

from typing import Any

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.delivery.deliver import sha256_file
from agentjobs.jobs.kinds.base import CheckFailed
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.base_init import init_base
from agentjobs.operators.errors import PermanentTaskError
from agentjobs.operators.team_task import TeamContext, TeamTaskOperator


class ArtifactUnsupported(PermanentTaskError):
    """The artifact says something its snapshot does not support."""


class TeamValidateOperator(TeamTaskOperator):
    ui_color = "#fff4e0"

    def __init__(
        self, *, spec: JobSpec, team_run: Any, summarize_task_id: str = "team.summarize", **kwargs: Any
    ) -> None:
        init_base(self, **kwargs)
        self.spec, self.team_run = spec, team_run
        self.summarize_task_id = summarize_task_id

    def run(self, context: Any) -> dict[str, Any]:
        team = self.team_context()
        ti = context["ti"]
        pushed = ti.xcom_pull(task_ids=self.summarize_task_id, map_indexes=ti.map_index)
        return self.validate_team(team, pushed, context)

    def validate_team(self, team: TeamContext, pushed: Any, context: Any) -> dict[str, Any]:
        """Check `team`'s artifact against its snapshot, given what its summarize pushed; the
        validated XCom the tasks after it read (a chunk's validate calls it once per team)."""
        from agentjobs.atomic_file import write_atomically
        from agentjobs.hooks.ledger import run_log
        from agentjobs.jobs.team_run import PREVIEW_FILE
        from agentjobs.operators import metrics
        from agentjobs.operators.run_files import recorded  # run-time: a parse needs none

        kind, team_id, period_key, work_dir = team.kind, team.team_id, team.period_key, team.work_dir
        if not pushed or not isinstance(pushed.get("result"), dict):
            raise ValueError(f"task {self.summarize_task_id!r} pushed no RESULT for {team_id}; run it first")
        artifact = work_dir / kind.artifact_file
        if not artifact.is_file():
            raise ArtifactUnsupported(f"{artifact} is missing; clear the run from 'summarize' to write it")
        markdown = artifact.read_text(encoding="utf-8")
        try:
            kind.check(team.snapshot(), markdown, pushed["result"], team.settings)
        except CheckFailed as exc:
            metrics.contract_failure(self.spec.dag_id, self.task_id)
            raise ArtifactUnsupported(
                f"{team_id} {period_key}: {kind.artifact_file} fails its check: {exc}"
            ) from None
        write_atomically(work_dir / PREVIEW_FILE, kind.preview(markdown))
        validated = {
            "team": team_id,
            "period": period_key,
            "result": pushed["result"],
            "artifact": recorded(artifact),
            "sha256": sha256_file(artifact),
            "preview": recorded(work_dir / PREVIEW_FILE),
        }
        self.log.info(
            "%s for %s %s is valid, sha256 %s", kind.artifact_file, team_id, period_key, validated["sha256"]
        )
        run_log(self.spec.ledger_conn_id).record(self.spec.dag_id, context["run_id"], "success")
        return validated

"""What a team's validate task handed on, as the tasks after it (apply, review, publish, deliver) read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentjobs.delivery.deliver import sha256_file
from agentjobs.operators.errors import ArtifactChanged


def pull_validated(
    context: Any, task_id: str, team_id: str, what: str = "validated result"
) -> dict[str, Any]:
    """The XCom `task_id` pushed for this mapped task's team (same map index); fails naming the
    task when there is none or it is another team's."""
    ti = context["ti"]
    validated = ti.xcom_pull(task_ids=task_id, map_indexes=ti.map_index)
    if not validated or validated.get("team") != team_id:
        raise ValueError(f"task {task_id!r} pushed no {what} for {team_id}")
    return validated


def pull_unchanged_artifact(context: Any, task_id: str, team_id: str) -> tuple[dict[str, Any], Path]:
    """The validated XCom and its artifact, refused when the file is no longer the one validated."""
    validated = pull_validated(context, task_id, team_id, what="validated artifact")
    return validated, unchanged_artifact(validated)


def unchanged_artifact(validated: dict[str, Any]) -> Path:
    """This task's copy of the artifact a validate task handed on, refused when it is no longer
    the file validated."""
    from agentjobs.operators.run_files import local_copy  # run-time: a parse needs none

    artifact = local_copy(validated["artifact"])
    if sha256_file(artifact) != validated["sha256"]:
        raise ArtifactChanged(f"{artifact} changed after validation; clear the run from 'summarize'")
    return artifact

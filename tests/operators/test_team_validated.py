"""What the tasks after a team's validate read from it: that team's XCom only, and an artifact
refused when it changed on disk after it was checked."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest

from agentjobs.operators.errors import ArtifactChanged
from agentjobs.operators.team_validated import pull_unchanged_artifact, pull_validated


def context(pushed: dict[str, Any] | None, map_index: int = 3) -> dict[str, Any]:
    """A mapped task instance whose validate pushed `pushed` at the same map index."""
    seen: dict[str, Any] = {}

    def xcom_pull(*, task_ids: str, map_indexes: int) -> Any:
        seen.update(task_ids=task_ids, map_indexes=map_indexes)
        return pushed

    return {"ti": SimpleNamespace(map_index=map_index, xcom_pull=xcom_pull), "seen": seen}


def test_the_teams_own_validated_result_is_read_from_its_own_map_index():
    ctx = context({"team": "team-berlin", "result": {"flags": 2}})
    assert pull_validated(ctx, "team.validate", "team-berlin")["result"] == {"flags": 2}
    assert ctx["seen"] == {"task_ids": "team.validate", "map_indexes": 3}


@pytest.mark.parametrize(
    "pushed", [None, {}, {"team": "team-paris", "result": {}}], ids=["none", "empty", "other"]
)
def test_no_result_or_another_teams_result_fails_naming_the_task_and_the_team(pushed):
    with pytest.raises(ValueError, match=r"task 'team.validate' pushed no validated result for team-berlin"):
        pull_validated(context(pushed), "team.validate", "team-berlin")


def test_an_artifact_unchanged_since_validation_is_handed_on(tmp_path):
    artifact = tmp_path / "insights.md"
    artifact.write_text("# Week 47\n")
    pushed = {"team": "team-berlin", "artifact": str(artifact), "sha256": _sha(artifact)}
    validated, path = pull_unchanged_artifact(context(pushed), "team.validate", "team-berlin")
    assert path == artifact and validated == pushed


def test_an_artifact_edited_after_validation_is_refused_for_good_naming_where_to_clear_from(tmp_path):
    artifact = tmp_path / "insights.md"
    artifact.write_text("# Week 47\n")
    pushed = {"team": "team-berlin", "artifact": str(artifact), "sha256": _sha(artifact)}
    artifact.write_text("# Week 47\nInjected line\n")
    with pytest.raises(ArtifactChanged) as raised:
        pull_unchanged_artifact(context(pushed), "team.validate", "team-berlin")
    assert str(raised.value) == f"{artifact} changed after validation; clear the run from 'summarize'"


def test_a_missing_validated_artifact_names_the_team(tmp_path):
    with pytest.raises(ValueError, match="pushed no validated artifact for team-berlin"):
        pull_unchanged_artifact(context(None), "team.publish", "team-berlin")


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

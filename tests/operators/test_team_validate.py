"""One team's validate task on its own (with the test kind team_tally): it reads its own team's
RESULT, checks the artifact against the team's snapshot, writes the preview and hands the file and
its checksum on; a missing RESULT or artifact, or an artifact its snapshot does not support, is
refused by name, for good, and no good run is recorded."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agentjobs.hooks.ledger import run_log
from agentjobs.operators.errors import PermanentTaskError
from agentjobs.operators.team_validate import ArtifactUnsupported, TeamValidateOperator
from tests.operators.tally import DAG_ID, PERIOD, TEAM, TEAM_RUN, tally_spec, write_snapshot

RUN_ID = "scheduled__2026-11-25T08:00:00+00:00"


@pytest.fixture
def spec(installed_kinds, monkeypatch, tmp_path):
    return tally_spec(monkeypatch, tmp_path)


def summarized(folder: Path, count: int, remark: str = "A steady day.") -> dict[str, Any]:
    """What team_tally's summarize task leaves: tally.md and the RESULT it pushed."""
    from agentjobs_tally import KIND

    from agentjobs.jobs.team_run import load_snapshot

    rendered = KIND.render(load_snapshot(folder), {"items": count, "remark": remark}, None, "Team tally")
    (folder / "tally.md").write_text(rendered.markdown)
    return {"result": rendered.result, "team": TEAM}


def validate(spec, pushed: Any, map_index: int = 2) -> tuple[dict[str, Any], dict[str, Any]]:
    asked: dict[str, Any] = {}

    def xcom_pull(task_ids: str, map_indexes: int) -> Any:
        asked.update(task_ids=task_ids, map_indexes=map_indexes)
        return pushed

    ti = SimpleNamespace(map_index=map_index, xcom_pull=xcom_pull)
    operator = TeamValidateOperator(task_id="team.validate", spec=spec, team_run=TEAM_RUN)
    return operator.execute({"ti": ti, "run_id": RUN_ID}), asked


def test_a_supported_artifact_is_handed_on_with_its_checksum_and_preview(spec):
    folder = write_snapshot(3)
    pushed = summarized(folder, 3)
    validated, asked = validate(spec, pushed)
    assert asked == {"task_ids": "team.summarize", "map_indexes": 2}  # its own team's RESULT
    artifact = folder / "tally.md"
    assert validated == {
        "team": TEAM,
        "period": PERIOD,
        "result": pushed["result"],
        "artifact": str(artifact),
        "sha256": hashlib.sha256(artifact.read_bytes()).hexdigest(),
        "preview": str(folder / "preview.txt"),
    }
    assert (folder / "preview.txt").read_text() == "3 transaction(s) yesterday."
    (entry,) = run_log("ledger_tally").recent(DAG_ID)
    assert (entry["outcome"], entry["run_id"]) == ("success", RUN_ID)


def test_an_artifact_its_snapshot_does_not_support_fails_for_good_naming_team_period_and_why(spec):
    folder = write_snapshot(3)
    pushed = summarized(folder, 3)
    (folder / "tally.md").write_text(
        (folder / "tally.md").read_text().replace("3 transaction", "30 transaction")
    )
    with pytest.raises(ArtifactUnsupported) as refused:
        validate(spec, pushed)
    assert isinstance(refused.value, PermanentTaskError)  # the same file would fail again: no retry
    assert str(refused.value) == (
        f"{TEAM} {PERIOD}: tally.md fails its check: "
        "tally.md does not say the 3 transaction(s) of the snapshot"
    )
    assert not (folder / "preview.txt").exists()
    assert run_log("ledger_tally").recent(DAG_ID) == []


@pytest.mark.parametrize("pushed", [None, {}, {"result": "RESULT: {}"}])
def test_no_result_from_summarize_is_refused_naming_the_task_and_team(spec, pushed):
    write_snapshot(1)
    with pytest.raises(ValueError, match=f"task 'team.summarize' pushed no RESULT for {TEAM}; run it first"):
        validate(spec, pushed)


def test_a_missing_artifact_says_where_to_clear_from(spec):
    folder = write_snapshot(1)
    pushed = summarized(folder, 1)
    (folder / "tally.md").unlink()
    with pytest.raises(ArtifactUnsupported, match=r"tally\.md is missing; clear the run from 'summarize'"):
        validate(spec, pushed)

"""When a rerun keeps the artifact that was delivered instead of asking the model again: only
when the ledger shows exactly the file on disk sent, its RESULT kept beside it, and no Param
asks for a new summary; anything else summarizes again. A team's period is kept the same way
when its writes were applied or it had nowhere to deliver (done.json), while the artifact and
RESULT are exactly the ones validated."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from agentjobs.delivery.ledger import DeliveryLedger
from agentjobs.jobs.spec import JobSpec, load_spec
from agentjobs.operators.delivered import (
    APPLIED,
    DELIVERED,
    DONE_FILE,
    NOWHERE,
    RESULT_FILE,
    delivered_result,
    kept_team_result,
    write_done,
    write_result,
)
from agentjobs.operators.factory import resolve_paths

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-11-24"
RESULT = {"highlights": [{"ref": "c1", "takeaway": "Fetch step added"}], "items": 1}
LOG = logging.getLogger("test_delivered")


@pytest.fixture
def spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> JobSpec:
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_DELIVERED", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    )
    digest = resolve_paths(load_spec(REPO / "include" / "jobs" / "daily-digest.yaml"), REPO)
    return digest.model_copy(update={"ledger_conn_id": "ledger_delivered"})


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "digest.md").write_text("# Digest of 2026-11-24\n\n- Fetch step added\n")
    write_result(folder, RESULT)
    return folder


def ledger_row(
    spec: JobSpec, path: Path, *, sent: bool = True, job: str | None = None, day: str = DAY
) -> None:
    ledger = DeliveryLedger.from_conn_id(spec.ledger_conn_id)
    claim = ledger.claim(
        job=job or spec.dag_id,
        logical_date=day,
        channel="email",
        target="team@example.org",
        run_id="scheduled__2026-11-25",
        content_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        force=True,
    )
    assert claim is not None
    if sent:
        ledger.mark_sent(claim, {})
    else:
        ledger.mark_failed(claim, "smtp down")


def kept(spec: JobSpec, work_dir: Path, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return delivered_result(spec, DAY, work_dir, params or {}, LOG, **kwargs)


def test_the_delivered_digest_is_kept_with_its_result(spec, work_dir):
    assert kept(spec, work_dir) is None  # nothing delivered yet: summarize
    ledger_row(spec, work_dir / "digest.md")
    assert kept(spec, work_dir) == RESULT
    assert json.loads((work_dir / RESULT_FILE).read_text()) == RESULT


@pytest.mark.parametrize("param", ["resummarize", "refetch"])
def test_a_run_asking_for_a_new_summary_or_new_input_gets_one(spec, work_dir, param):
    ledger_row(spec, work_dir / "digest.md")
    assert kept(spec, work_dir, {param: True}) is None
    assert kept(spec, work_dir, {param: False}) == RESULT


def test_only_a_sent_row_of_that_day_and_job_counts(spec, work_dir):
    ledger_row(spec, work_dir / "digest.md", sent=False)  # a failed send delivered nothing
    ledger_row(spec, work_dir / "digest.md", day="2026-11-23")
    ledger_row(spec, work_dir / "digest.md", job="another_job")
    assert kept(spec, work_dir) is None
    assert kept(spec, work_dir, job="another_job") == RESULT


def test_a_digest_edited_since_delivery_or_a_missing_file_is_summarized_again(spec, work_dir):
    ledger_row(spec, work_dir / "digest.md")
    (work_dir / "digest.md").write_text("# Digest of 2026-11-24\n\n- Something else\n")
    assert kept(spec, work_dir) is None  # what is on disk is not what the readers got

    (work_dir / "digest.md").unlink()
    assert kept(spec, work_dir) is None


def test_a_missing_result_beside_the_delivered_digest_is_summarized_again(spec, work_dir):
    ledger_row(spec, work_dir / "digest.md")
    (work_dir / RESULT_FILE).unlink()
    assert kept(spec, work_dir) is None


def test_a_job_that_never_delivers_always_summarizes(spec, work_dir):
    ledger_row(spec, work_dir / "digest.md")
    assert kept(spec.model_copy(update={"channels": []}), work_dir) is None
    assert kept(spec, work_dir, delivers=False) is None
    assert kept(spec.model_copy(update={"channels": []}), work_dir, delivers=True) == RESULT


def test_another_artifact_file_is_checked_in_place_of_the_digest(spec, work_dir):
    report = work_dir / "report.md"
    report.write_text("# Report\n")
    ledger_row(spec, report)
    assert kept(spec, work_dir) is None  # digest.md is not what was sent
    assert kept(spec, work_dir, artifact_file="report.md") == RESULT


def team_kept(spec: JobSpec, work_dir: Path, params: dict[str, Any] | None = None) -> Any:
    return kept_team_result(
        spec, DAY, work_dir, params or {}, LOG, artifact_file="digest.md", job=f"{spec.dag_id}/team-a"
    )


def validated(work_dir: Path, result: dict[str, Any] = RESULT) -> dict[str, Any]:
    """What the validate task hands on for the artifact on disk."""
    artifact = work_dir / "digest.md"
    return {
        "artifact": str(artifact),
        "sha256": hashlib.sha256(artifact.read_bytes()).hexdigest(),
        "result": result,
    }


@pytest.mark.parametrize("how", [APPLIED, NOWHERE])
def test_a_team_applied_or_with_nowhere_to_deliver_keeps_its_summary_until_asked_again(spec, work_dir, how):
    assert team_kept(spec, work_dir) is None  # neither delivered nor done: summarize
    write_done(work_dir, validated(work_dir), how)
    assert team_kept(spec, work_dir) == (RESULT, how)
    assert team_kept(spec, work_dir, {"resummarize": True}) is None
    assert team_kept(spec, work_dir, {"refetch": True}) is None


def test_a_team_delivered_is_kept_by_the_ledger_as_before(spec, work_dir):
    ledger_row(spec, work_dir / "digest.md", job=f"{spec.dag_id}/team-a")
    assert team_kept(spec, work_dir) == (RESULT, DELIVERED)
    assert not (work_dir / DONE_FILE).exists()


def test_done_counts_only_for_the_artifact_and_result_that_were_validated(spec, work_dir):
    write_done(work_dir, validated(work_dir), APPLIED)
    sent = (work_dir / "digest.md").read_text()
    (work_dir / "digest.md").write_text(sent + "- Edited since\n")
    assert team_kept(spec, work_dir) is None  # not the file the writes were made from

    (work_dir / "digest.md").write_text(sent)
    write_result(work_dir, {**RESULT, "items": 2})  # a later summary's RESULT beside the same file
    assert team_kept(spec, work_dir) is None

    write_result(work_dir, RESULT)
    assert team_kept(spec, work_dir) == (RESULT, APPLIED)
    (work_dir / RESULT_FILE).unlink()
    assert team_kept(spec, work_dir) is None


def test_done_for_another_file_or_unreadable_is_not_stood_on(spec, work_dir):
    report = work_dir / "message.md"
    report.write_text("# Report\n")
    write_done(work_dir, {**validated(work_dir), "artifact": str(report)}, NOWHERE)
    assert team_kept(spec, work_dir) is None
    (work_dir / DONE_FILE).write_text("{not json")
    assert team_kept(spec, work_dir) is None

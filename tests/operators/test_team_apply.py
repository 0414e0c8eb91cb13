"""One team's apply task on its own: the kind's write gets this team's validated RESULT, its
snapshot and the `sql` source's database, once per record however often the task runs; a write
the kind refuses fails the task for good, naming the team and period. Writes that committed
leave done.json, so a clear keeps the summary they were made from."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.jobs.kinds.base import CheckFailed, TeamSnapshot
from agentjobs.jobs.team_run import team_dir
from agentjobs.operators.delivered import APPLIED, kept_team_result, write_result
from agentjobs.operators.errors import PermanentTaskError
from agentjobs.operators.team_apply import TeamApplyOperator
from agentjobs.operators.team_validate import ArtifactUnsupported
from tests.operators.tally import DAG_ID, PERIOD, TEAM, TEAM_RUN, tally_spec, write_snapshot


class Applying:
    """team_tally with a write (an `Applies` kind): it stores the tally once per team and period,
    and refuses a RESULT whose count is not the snapshot's."""

    def __init__(self, tally: Any) -> None:
        self.tally = tally

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tally, name)

    def apply(self, snapshot: TeamSnapshot, result: dict[str, Any], settings: Any, engine: Any) -> dict:
        count = len(snapshot.tables["transactions"])
        if result.get("items") != count:
            raise CheckFailed(f"items {result.get('items')} is not the snapshot's {count}")
        key = f"{snapshot.team.id}/{snapshot.period.key}"
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS tallies (key TEXT PRIMARY KEY, n INTEGER)"))
            inserted = conn.execute(
                sa.text("INSERT INTO tallies VALUES (:key, :n) ON CONFLICT DO NOTHING"),
                {"key": key, "n": count},
            ).rowcount
        return {"written": [key] if inserted else [], "already": [] if inserted else [key]}


@pytest.fixture
def business(installed_kinds, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    from agentjobs_tally import KIND

    monkeypatch.setattr("agentjobs.operators.team_task.fan_out_kind", lambda name: Applying(KIND))
    db = tmp_path / "business.db"
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_UNUSED", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    tally_spec(monkeypatch, tmp_path)  # the artifact base the snapshot goes under
    return db


def apply(monkeypatch, tmp_path, result: dict[str, Any] | None) -> dict[str, Any]:
    spec = tally_spec(monkeypatch, tmp_path)
    pushed = None if result is None else validated(result)
    ti = SimpleNamespace(map_index=0, xcom_pull=lambda task_ids, map_indexes: pushed)
    operator = TeamApplyOperator(task_id="team.apply", spec=spec, team_run=TEAM_RUN)
    return operator.execute({"ti": ti, "run_id": "manual__1"})


def validated(result: dict[str, Any]) -> dict[str, Any]:
    """The validate task's XCom for a summary of `result` (its artifact and RESULT on disk)."""
    folder = team_dir(DAG_ID, TEAM, PERIOD)  # the snapshot written by the test
    artifact = folder / "tally.md"
    artifact.write_text(
        f"# Team tally — Berlin, {PERIOD}\n\n{result.get('items')} transaction(s) yesterday.\n"
    )
    write_result(folder, result)
    sha256 = hashlib.sha256(artifact.read_bytes()).hexdigest()
    return {"team": TEAM, "result": result, "artifact": str(artifact), "sha256": sha256}


def kept_on_clear(monkeypatch, tmp_path) -> Any:
    """What a clear's summarize task would stand on instead of asking the model."""
    spec = tally_spec(monkeypatch, tmp_path)
    folder = team_dir(DAG_ID, TEAM, PERIOD)
    log = logging.getLogger("test_team_apply")
    return kept_team_result(spec, PERIOD, folder, {}, log, artifact_file="tally.md", job=f"{DAG_ID}/{TEAM}")


def tallies(db: Path) -> list[tuple[str, int]]:
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text("SELECT key, n FROM tallies"))]


def test_the_validated_result_is_written_to_the_business_database_once(business, monkeypatch, tmp_path):
    write_snapshot(3)
    first = apply(monkeypatch, tmp_path, {"items": 3, "remark": "ok"})
    assert first == {"team": TEAM, "period": PERIOD, "written": [f"{TEAM}/{PERIOD}"], "already": []}
    again = apply(monkeypatch, tmp_path, {"items": 3, "remark": "ok"})  # a retry, clear or backfill
    assert again["written"] == [] and again["already"] == [f"{TEAM}/{PERIOD}"]
    assert tallies(business) == [(f"{TEAM}/{PERIOD}", 3)]


def test_a_clear_after_the_writes_keeps_the_summary_they_were_made_from(business, monkeypatch, tmp_path):
    write_snapshot(3)
    apply(monkeypatch, tmp_path, {"items": 3, "remark": "ok"})
    assert kept_on_clear(monkeypatch, tmp_path) == ({"items": 3, "remark": "ok"}, APPLIED)


def test_a_write_the_kind_refuses_fails_for_good_naming_team_and_period(business, monkeypatch, tmp_path):
    write_snapshot(3)
    with pytest.raises(ArtifactUnsupported) as refused:
        apply(monkeypatch, tmp_path, {"items": 5, "remark": "ok"})
    assert isinstance(refused.value, PermanentTaskError)
    assert str(refused.value) == f"{TEAM} {PERIOD}: not written: items 5 is not the snapshot's 3"
    assert kept_on_clear(monkeypatch, tmp_path) is None  # nothing written: a clear asks the model again


def test_nothing_validated_for_the_team_writes_nothing(business, monkeypatch, tmp_path):
    write_snapshot(3)
    with pytest.raises(ValueError, match=f"task 'team.validate' pushed no validated result for {TEAM}"):
        apply(monkeypatch, tmp_path, None)
    assert not business.exists()


def test_a_job_without_a_business_database_gets_no_apply_task(installed_kinds, monkeypatch, tmp_path):
    spec = tally_spec(monkeypatch, tmp_path)
    no_sql = spec.model_copy(update={"sources": spec.sources.model_copy(update={"sql": None})})
    with pytest.raises(ValueError, match="has no sql source"):
        TeamApplyOperator(task_id="team.apply", spec=no_sql, team_run=TEAM_RUN)

"""A chunk's apply and publish tasks on their own: each team of the chunk written or published
with the per-team task's rules (once per record, once per PDF, however often the chunk runs), a
team the kind refuses named in the chunk's failure while its neighbours are done, and only the
teams the step before handed on taken."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agentjobs.delivery.ledger import DeliveryLedger
from agentjobs.jobs.kinds.base import PeriodRef, TeamSnapshot
from agentjobs.jobs.team_run import snapshot_path, team_dir
from agentjobs.operators.delivered import APPLIED, kept_team_result
from agentjobs.operators.team_chunk import TeamsFailedPermanently, handed_on
from agentjobs.operators.team_chunk_steps import ChunkApplyOperator, ChunkPublishOperator
from agentjobs.sources.teams import Team
from tests.operators.tally import DAG_ID, PERIOD, tally_spec
from tests.operators.test_team_apply import Applying, tallies
from tests.operators.test_team_publish import Documenting

TEAMS = {"team-a": 3, "team-b": 2, "team-c": 4}  # each team's transactions
CHUNK = [{"team": team, "period": PERIOD} for team in TEAMS]
LOG = logging.getLogger(__name__)


def write_snapshots() -> None:
    period = PeriodRef(
        key=PERIOD, start=datetime(2026, 11, 24, tzinfo=UTC), end=datetime(2026, 11, 25, tzinfo=UTC)
    )
    for team_id, count in TEAMS.items():
        team = Team(id=team_id, name=team_id.title(), timezone="UTC", currency="EUR")
        rows = [{"id": i} for i in range(count)]
        snapshot = TeamSnapshot(kind="team_tally", team=team, period=period, tables={"transactions": rows})
        path = snapshot_path(team_dir(DAG_ID, team_id, PERIOD))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(snapshot.model_dump_json())


def validated(team_id: str, items: int) -> dict[str, Any]:
    """validate's per-team XCom for a report of `items` transactions (the file on disk)."""
    folder = team_dir(DAG_ID, team_id, PERIOD)
    artifact = folder / "tally.md"
    artifact.write_text(f"# Team tally — {team_id}, {PERIOD}\n\n{items} transaction(s) yesterday.\n")
    (folder / "result.json").write_text(json.dumps({"items": items}))
    sha = hashlib.sha256(artifact.read_bytes()).hexdigest()
    return {
        "team": team_id,
        "period": PERIOD,
        "result": {"items": items},
        "artifact": str(artifact),
        "sha256": sha,
    }


class ChunkTI:
    """The chunk task instance: the earlier steps' `teams` XComs in, its own `teams` XCom out."""

    dag_id, run_id, map_index, try_number = DAG_ID, "scheduled__2026-11-25", 0, 1

    def __init__(self, task_id: str, pushed: dict[str, dict[str, Any]]) -> None:
        self.task_id, self.pushed, self.out = task_id, pushed, {}

    def xcom_pull(self, task_ids: str, key: str, map_indexes: int) -> Any:
        assert (key, map_indexes) == ("teams", 0)
        return self.pushed.get(task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        self.out[key] = value


def execute(operator: Any, pushed: dict[str, dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """(the task's return value or its exception, its `teams` XCom)."""
    ti = ChunkTI(operator.task_id, pushed)
    try:
        returned: Any = operator.execute({"ti": ti, "params": {}, "run_id": ti.run_id})
    except Exception as exc:
        returned = exc
    return returned, ti.out.get("teams", {})


@pytest.fixture
def applying(installed_kinds, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from agentjobs_tally import KIND

    monkeypatch.setattr("agentjobs.operators.team_task.fan_out_kind", lambda name: Applying(KIND))
    db = tmp_path / "business.db"
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_UNUSED", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    spec = tally_spec(monkeypatch, tmp_path)
    write_snapshots()
    return spec, db


def test_a_chunks_apply_writes_each_team_once_and_names_the_team_the_kind_refuses(applying):
    spec, db = applying
    # team-b's RESULT says 5 where its snapshot has 2: the kind refuses that write.
    pushed = {"team.validate": {"team-a": validated("team-a", 3), "team-b": validated("team-b", 5),
                                "team-c": validated("team-c", 4)}}  # fmt: skip
    operator = ChunkApplyOperator(task_id="team.apply", spec=spec, team_runs=CHUNK)
    failure, teams = execute(operator, pushed)
    assert isinstance(failure, TeamsFailedPermanently)  # a retry would be refused again
    assert str(failure) == (
        f"1 of 3 teams failed to apply: team-b: ArtifactUnsupported: team-b {PERIOD}: not written: "
        "items 5 is not the snapshot's 2"
    )
    # The refused team's entry says where and why, for its row on the UI page; the next step
    # passes it over.
    assert teams["team-b"] == {
        "team": "team-b",
        "step": "apply",
        "error": "ArtifactUnsupported",
        "failure": f"ArtifactUnsupported: team-b {PERIOD}: not written: items 5 is not the snapshot's 2",
    }
    assert handed_on({"ti": ChunkTI("team.deliver", {"team.validate": pushed["team.validate"],
                                                     "team.apply": teams})},
                     "team.validate", "team.apply").keys() == {"team-a", "team-c"}  # fmt: skip
    assert teams["team-a"] == {
        "team": "team-a",
        "period": PERIOD,
        "written": [f"team-a/{PERIOD}"],
        "already": [],
    }
    assert sorted(tallies(db)) == [(f"team-a/{PERIOD}", 3), (f"team-c/{PERIOD}", 4)]

    # The chunk again (a retry, a clear): the written teams write nothing twice.
    failure, again = execute(operator, pushed)
    assert isinstance(failure, TeamsFailedPermanently)
    assert again["team-a"]["written"] == [] and again["team-a"]["already"] == [f"team-a/{PERIOD}"]
    assert sorted(tallies(db)) == [(f"team-a/{PERIOD}", 3), (f"team-c/{PERIOD}", 4)]
    # Each written team vouches for its summary; the refused one is asked again on a clear.
    for team_id, kept in (
        ("team-a", ({"items": 3}, APPLIED)),
        ("team-c", ({"items": 4}, APPLIED)),
        ("team-b", None),
    ):
        folder = team_dir(DAG_ID, team_id, PERIOD)
        found = kept_team_result(
            spec, PERIOD, folder, {}, LOG, artifact_file="tally.md", job=f"{DAG_ID}/{team_id}"
        )
        assert found == kept, team_id


def test_a_chunks_apply_takes_only_the_teams_validate_passed(applying):
    spec, db = applying
    pushed = {"team.validate": {"team-c": validated("team-c", 4)}}  # team-a and team-b failed validate
    returned, teams = execute(ChunkApplyOperator(task_id="team.apply", spec=spec, team_runs=CHUNK), pushed)
    assert returned == {"teams": ["team-c"]} and list(teams) == ["team-c"]
    assert tallies(db) == [(f"team-c/{PERIOD}", 4)]


@pytest.fixture
def documenting(installed_kinds, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from agentjobs_tally import KIND

    settings = SimpleNamespace(storage=None, storage_conn_id=None, local_hour=8)  # the team's folder
    monkeypatch.setattr("agentjobs.operators.team_task.job_kind", lambda spec: (Documenting(KIND), settings))
    spec = tally_spec(monkeypatch, tmp_path)
    write_snapshots()
    return spec


def test_a_chunks_publish_stores_each_teams_pdf_once_and_leaves_another_document_alone(documenting):
    spec = documenting
    pushed = {"team.validate": {team: validated(team, n) for team, n in TEAMS.items()}}
    taken = team_dir(DAG_ID, "team-b", PERIOD) / f"tally-{PERIOD}.pdf"
    taken.write_bytes(b"%PDF someone else's")
    operator = ChunkPublishOperator(task_id="team.publish", spec=spec, team_runs=CHUNK)
    failure, teams = execute(operator, pushed)
    assert isinstance(failure, TeamsFailedPermanently)
    assert str(failure).startswith(
        f"1 of 3 teams failed to publish: team-b: ReportNotStored: team-b {PERIOD}: file://"
    )
    assert taken.read_bytes() == b"%PDF someone else's"
    assert sorted(teams) == ["team-a", "team-b", "team-c"]
    assert (teams["team-b"]["step"], teams["team-b"]["error"]) == ("publish", "ReportNotStored")
    assert teams["team-b"]["failure"] == str(failure).split("team-b: ", 1)[1]
    ledger = DeliveryLedger.from_conn_id(spec.ledger_conn_id)
    for team_id in ("team-a", "team-c"):
        folder = team_dir(DAG_ID, team_id, PERIOD)
        pdf = folder / f"tally-{PERIOD}.pdf"
        # Its own PDF, its own message (validate's shape, for deliver), its own ledger row.
        assert pdf.read_bytes() == b"%PDF-test\n" + (folder / "tally.md").read_bytes()
        assert teams[team_id]["artifact"] == str(folder / "message.md")
        assert f"`{pdf.resolve().as_uri()}`" in (folder / "message.md").read_text()
        rows = ledger.history(job=f"{DAG_ID}/{team_id}", logical_date=PERIOD)
        assert [(r.channel, r.target) for r in rows] == [("report", pdf.resolve().as_uri())]

    # The chunk again: nothing is stored twice (the ledger vouches, the file is not rewritten).
    pdf = team_dir(DAG_ID, "team-a", PERIOD) / f"tally-{PERIOD}.pdf"
    pdf.write_bytes(b"tampered")
    _, again = execute(operator, pushed)
    assert pdf.read_bytes() == b"tampered" and sorted(again) == ["team-a", "team-b", "team-c"]
    assert "error" in again["team-b"] and "error" not in again["team-a"]


def test_a_step_after_apply_takes_only_the_teams_apply_wrote():
    validated_ = {team: {"team": team, "sha256": "x"} for team in TEAMS}
    applied = {"team-a": {"team": "team-a", "written": []}, "team-c": {"team": "team-c", "error": "X"}}
    ti = ChunkTI("team.deliver", {"team.validate": validated_, "team.apply": applied})
    context = {"ti": ti}
    assert handed_on(context, "team.validate", "team.apply") == {"team-a": validated_["team-a"]}
    assert handed_on(context, "team.validate", "team.validate") == validated_
    assert handed_on(context, "team.publish", "team.publish") == {}  # it pushed nothing


def test_nothing_handed_on_writes_nothing(applying):
    spec, db = applying
    returned, teams = execute(ChunkApplyOperator(task_id="team.apply", spec=spec, team_runs=CHUNK), {})
    assert returned == {"teams": []} and teams == {}
    assert not db.exists()  # not even connected to

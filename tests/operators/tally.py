"""A team's run of the test kind `team_tally` (tests/kinds_plugin), laid out as the fetch task
leaves it: the spec, the team's folder and its snapshot. Shared by the per-team operator tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentjobs.jobs.kinds.base import PeriodRef, TeamSnapshot
from agentjobs.jobs.spec import JobSpec
from agentjobs.jobs.team_run import snapshot_path, team_dir
from agentjobs.sources.teams import Team

TEAM, PERIOD = "team-berlin", "2026-11-24"
TEAM_RUN = {"team": TEAM, "period": PERIOD}
DAG_ID = "team_tally_ops"


def tally_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **fields: object) -> JobSpec:
    """A team_tally job whose artifacts and ledger live under `tmp_path`."""
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "artifacts"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_TALLY", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ledger.db")})
    )
    return JobSpec.model_validate(
        {
            "dag_id": DAG_ID,
            "kind": "team_tally",
            "title": "Team tally",
            "start_date": "2026-11-01",
            "skill": "team-tally",
            "sources": {"sql": {"conn_id": "business_unused"}},
            "team_delivery": {"slack_conn_id": None, "smtp_conn_id": None},
            "ledger_conn_id": "ledger_tally",
            **fields,
        }
    )


def write_snapshot(transactions: int) -> Path:
    """The team's snapshot with `transactions` rows; returns the team's folder."""
    folder = team_dir(DAG_ID, TEAM, PERIOD)
    team = Team(id=TEAM, name="Berlin", timezone="UTC", currency="EUR")
    period = PeriodRef(
        key=PERIOD, start=datetime(2026, 11, 24, tzinfo=UTC), end=datetime(2026, 11, 25, tzinfo=UTC)
    )
    rows = [{"id": i} for i in range(transactions)]
    snapshot = TeamSnapshot(kind="team_tally", team=team, period=period, tables={"transactions": rows})
    snapshot_path(folder).parent.mkdir(parents=True, exist_ok=True)
    snapshot_path(folder).write_text(snapshot.model_dump_json())
    return folder

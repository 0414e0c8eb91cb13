"""The generated business database for whole-DAG tests: one file per test session, its truth, its
connection, and the shipped business-kind specs pointed at the test's fakes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import fresh_database

REPO = Path(__file__).resolve().parents[2]
BUSINESS_CONN = "agentjobs_business_test"


@dataclass(frozen=True)
class BusinessDb:
    path: Path
    truth: Any  # agentjobs.business.truth.Truth


@pytest.fixture(scope="session")
def business_db(sample_db: tuple[Path, Any]) -> BusinessDb:
    """The session's one generated database (tests.business.fixtures), with its truth."""
    return BusinessDb(*sample_db)


@pytest.fixture
def business_conn(business_db: BusinessDb, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}",
        json.dumps({"conn_type": "sqlite", "host": str(business_db.path)}),
    )
    return BUSINESS_CONN


@pytest.fixture(scope="session")
def business_pg(business_db: BusinessDb) -> Iterator[str]:
    """The generated database loaded into a PostgreSQL database of its own, as an Airflow URI."""
    import sqlalchemy as sa

    from agentjobs.business.load import load_into

    with fresh_database("agentjobs_business") as name:
        engine = sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}")
        try:
            load_into(business_db.path, engine)
        finally:
            engine.dispose()
        yield f"postgres://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(params=["sqlite", "postgres"])
def any_business_conn(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The business database's connection, on the SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("business_conn")
    monkeypatch.setenv(f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}", request.getfixturevalue("business_pg"))
    return BUSINESS_CONN


def shipped_spec(file: str, llm_conn: str, sql_conn: str, **update: Any) -> Any:
    """The shipped spec of include/jobs/`file`, with a unique dag_id, on the test's model and database."""
    from agentjobs.jobs.spec import JobSpec, load_spec

    data = load_spec(REPO / "include" / "jobs" / file).model_dump()
    defaults = {
        "dag_id": f"{data['dag_id']}_{uuid.uuid4().hex[:8]}",
        "llm_conn_id": llm_conn,
        "retries": 0,
        "alert": None,  # a test that wants the alert passes its own
        "pool": None,
        "sources": {"sql": {"conn_id": sql_conn}},
    }
    data.update({**defaults, **update})
    return JobSpec.model_validate(data)


def serving_instant(spec: Any, team_id: str, day: Any) -> datetime:
    """The logical date of the hourly run that serves `team_id` for the period ending `day`."""
    from agentjobs.cli.run import serving_instant as find
    from agentjobs.jobs.kinds.registry import fan_out_kind
    from agentjobs.sources.sql import fetch_teams

    (team,) = [t for t, _ in fetch_teams(spec.sources.sql.conn_id) if t.id == team_id]
    when = find(fan_out_kind(spec.kind), spec.kind_settings(), team, day)
    assert when is not None, f"no run serves {team_id} for {day}"
    return when


def on_the_teams_clock(team: Any, members: list[Any], when: datetime) -> list[Any]:
    """The members whose own clock (their zone; the team's where they have none) reads the
    team's at `when`: those weekly_insights mails at the team's run, the others at their own."""
    from zoneinfo import ZoneInfo

    def wall(zone: str) -> str:
        return when.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")

    return [m for m in members if wall(m.timezone or team.timezone) == wall(team.timezone)]


def team_states(run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}

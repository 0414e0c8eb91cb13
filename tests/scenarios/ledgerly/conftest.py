"""The Ledgerly database for whole-DAG tests of the specs in src/agentjobs/business/ledgerly/jobs/:
generated once per session and loaded into the schema `ledgerly` (the one the specs name) of a
PostgreSQL database of its own, dropped afterwards. Without the server the tests skip with the
reason (tests/postgres.py). The session's time zone is set far from every workspace's, so a
mapped query that leaned on it would shift a period."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.postgres import fresh_database

SPECS = Path(__file__).resolve().parents[3] / "src" / "agentjobs" / "business" / "ledgerly" / "jobs"
CONN_ID = "ledgerly"  # the connection the specs name


@dataclass(frozen=True)
class Ledgerly:
    uri: str  # the Airflow connection URI
    engine: sa.Engine  # search_path ledgerly: SQL on the raw tables, for the truths
    truth: Any  # agentjobs.business.ledgerly.truth.Truth


@pytest.fixture(scope="session")
def ledgerly_db() -> Iterator[Ledgerly]:
    from agentjobs.business.ledgerly.generate import generate
    from agentjobs.business.ledgerly.load import load

    rows, truth = generate()
    with fresh_database("agentjobs_ledgerly") as name:
        url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        loader = sa.create_engine(url)
        try:
            load(loader, rows, "ledgerly")
        finally:
            loader.dispose()
        options = "-csearch_path=ledgerly -ctimezone=America/Caracas"
        engine = sa.create_engine(url, connect_args={"options": options})
        try:
            yield Ledgerly(f"postgres://postgres@127.0.0.1:5432/{name}", engine, truth)
        finally:
            engine.dispose()


@pytest.fixture
def ledgerly_conn(ledgerly_db: Ledgerly, monkeypatch: pytest.MonkeyPatch) -> str:
    """The specs' connection `ledgerly`, on the test's database."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", ledgerly_db.uri)
    return CONN_ID


def ledgerly_spec(file: str, llm_conn: str, **update: Any) -> Any:
    """The Ledgerly spec `file` with a unique dag_id, on the test's model; its mapping untouched."""
    import uuid

    from agentjobs.jobs.spec import JobSpec, load_spec

    data = load_spec(SPECS / file).model_dump()
    defaults = {
        "dag_id": f"{data['dag_id']}_{uuid.uuid4().hex[:8]}",
        "llm_conn_id": llm_conn,
        "retries": 0,
        "alert": None,
        "pool": None,
    }
    data.update({**defaults, **update})
    return JobSpec.model_validate(data)


def query(engine: sa.Engine, sql: str, **params: Any) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def ledgerly_teams(spec: Any) -> list[tuple[Any, list[Any]]]:
    """The workspaces and their members, read through the spec's own teams/users mapping."""
    from agentjobs.jobs.inputs import team_queries
    from agentjobs.sources.sql import fetch_teams

    return fetch_teams(spec.sources.sql.conn_id, team_queries(spec.sources.sql.inputs))


def workspace(spec: Any, slug: str) -> tuple[Any, list[Any]]:
    """The team (and members) of the workspace `slug`, by the id the database gives it."""
    (ws_id,) = [r[0] for r in _slug_ids(spec) if r[1] == slug]
    return next(p for p in ledgerly_teams(spec) if p[0].id == ws_id)


def _slug_ids(spec: Any) -> list[tuple[str, str]]:
    from agentjobs.sources.sql import connection_engine

    with connection_engine(spec.sources.sql.conn_id).connect() as conn:
        return [(str(r[0]), r[1]) for r in conn.exec_driver_sql("SELECT id, slug FROM ledgerly.workspaces")]


def serving_instant(spec: Any, team: Any, day: Any) -> Any:
    """The logical date of the run that serves `team` for the period ending `day`."""
    from agentjobs.cli.run import serving_instant as find
    from agentjobs.jobs.kinds.registry import fan_out_kind

    when = find(fan_out_kind(spec.kind), spec.kind_settings(), team, day)
    assert when is not None, f"no run serves {team.id} for {day}"
    return when

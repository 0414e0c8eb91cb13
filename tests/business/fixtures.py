"""The sample database, generated once per test session, and a fresh PostgreSQL schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentjobs.business.generate import generate
from agentjobs.business.truth import Truth

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
_generated: dict[str, tuple[Path, Truth]] = {}


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    # Cached in the module: conftest and test_sql both import this fixture, and one
    # generation per session is enough for every reader.
    if "db" not in _generated:
        path = tmp_path_factory.mktemp("business") / "business.db"
        _generated["db"] = (path, generate(path))
    return _generated["db"]


@pytest.fixture
def sqlite_engine(sample_db) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{sample_db[0]}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_schema() -> Iterator[tuple[sa.Engine, str]]:
    """(engine, schema): a schema of this test's own in the test database, dropped afterwards; the
    engine's search_path is that schema, so unqualified queries read it."""
    probe = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with probe.connect():
            pass
    except sa.exc.OperationalError as exc:
        probe.dispose()
        reason = f"PostgreSQL at 127.0.0.1:5432 (db test, user postgres) is unreachable: {exc.orig}"
        if os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    schema = f"bizdb_{uuid.uuid4().hex[:10]}"
    with probe.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = sa.create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine, schema
    finally:
        engine.dispose()
        with probe.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        probe.dispose()

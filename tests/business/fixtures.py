"""The sample database, generated once per test session, and a fresh PostgreSQL schema per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentjobs.business.generate import generate
from agentjobs.business.truth import Truth
from tests.postgres import own_schema

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
    with own_schema("bizdb", PG_URL) as found:
        yield found

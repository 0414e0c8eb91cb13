"""A Ledgerly database generated once per session and loaded once into a PostgreSQL schema of
its own (dropped afterwards), for the tests that read it with SQL; tests that write get their own
schema (tests/business/fixtures.py's pg_schema)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.business.ledgerly.generate import generate
from agentjobs.business.ledgerly.load import load
from agentjobs.business.ledgerly.truth import Truth
from tests.business.fixtures import PG_URL

Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="session")
def ledgerly() -> tuple[Rows, Truth]:
    return generate()


@pytest.fixture(scope="session")
def ledgerly_pg(ledgerly: tuple[Rows, Truth]) -> Iterator[sa.Engine]:
    """An engine whose search_path is a schema the generated database was loaded into."""
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
    schema = f"ledgerly_{uuid.uuid4().hex[:10]}"
    load(probe, ledgerly[0], schema)
    # A session time zone far from every workspace's: no query below may depend on it.
    options = f"-csearch_path={schema} -ctimezone=America/Caracas"
    engine = sa.create_engine(PG_URL, connect_args={"options": options})
    try:
        yield engine
    finally:
        engine.dispose()
        with probe.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        probe.dispose()

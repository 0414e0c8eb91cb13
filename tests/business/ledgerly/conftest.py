"""A Ledgerly database generated once per session and loaded once into a PostgreSQL schema of
its own (dropped afterwards), for the tests that read it with SQL; tests that write get their own
schema (tests/business/fixtures.py's pg_schema)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.business.ledgerly.generate import generate
from agentjobs.business.ledgerly.load import load
from agentjobs.business.ledgerly.truth import Truth
from tests.business.fixtures import PG_URL
from tests.postgres import own_schema

Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="session")
def ledgerly() -> tuple[Rows, Truth]:
    return generate()


@pytest.fixture(scope="session")
def ledgerly_pg(ledgerly: tuple[Rows, Truth]) -> Iterator[sa.Engine]:
    """An engine whose search_path is a schema the generated database was loaded into."""

    def fill(probe: sa.Engine, schema: str) -> None:
        load(probe, ledgerly[0], schema)

    # A session time zone far from every workspace's: no query below may depend on it.
    with own_schema("ledgerly", PG_URL, "-ctimezone=America/Caracas", fill) as (engine, _):
        yield engine

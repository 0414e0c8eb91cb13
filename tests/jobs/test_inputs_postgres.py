"""Declared inputs on PostgreSQL, in a schema of the test's own: result type OIDs are checked
even with no rows, and a session time zone cannot shift a period, for `timestamp` columns
holding UTC (the sample) and `timestamptz` columns (a user's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from agentjobs.jobs.inputs import Column, Input
from agentjobs.sources.sql import read_tables
from agentjobs.sources.teams import Query
from tests.business.fixtures import PG_URL

EVENTS = Input(
    "events",
    "test events",
    (Column("id", "integer"), Column("at", "timestamp"), Column("amount", "decimal")),
    ("start", "end"),
    "",
)
# The period: the UTC day of 2026-11-28. Rows at 23:30 UTC the day before and 00:30 UTC the day
# after are outside it; Auckland is 13 hours ahead, so a shifted bind would take one in.
START, END = datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)


def _auckland(schema: str) -> sa.Engine:
    return sa.create_engine(
        PG_URL, connect_args={"options": f"-csearch_path={schema} -ctimezone=Pacific/Auckland"}
    )


def test_a_session_time_zone_cannot_shift_the_period(pg_schema: tuple[sa.Engine, Any]):
    engine, schema = pg_schema
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE naive (id int, at timestamp)")
        conn.exec_driver_sql("CREATE TABLE aware (id int, at timestamptz)")
        utc = ["2026-11-27 23:30", "2026-11-28 00:30", "2026-11-28 23:30", "2026-11-29 00:30"]
        naive = ", ".join(f"({i}, '{at}')" for i, at in enumerate(utc, 1))
        aware = ", ".join(f"({i}, '{at}+00')" for i, at in enumerate(utc, 1))
        conn.exec_driver_sql(f"INSERT INTO naive VALUES {naive}")
        conn.exec_driver_sql(f"INSERT INTO aware VALUES {aware}")
    auckland = _auckland(schema)
    try:
        with auckland.connect() as conn:
            assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "Pacific/Auckland"
        params = {"start": START, "end": END}
        queries = {
            name: Query(f"SELECT id, at FROM {name} WHERE at >= :start AND at < :end ORDER BY id", params)
            for name in ("naive", "aware")
        }
        tables = read_tables(auckland, queries)
    finally:
        auckland.dispose()
    for name in ("naive", "aware"):
        assert tables[name] == [
            {"id": 2, "at": "2026-11-28T00:30:00Z"},
            {"id": 3, "at": "2026-11-28T23:30:00Z"},
        ], name

"""The reader's two limits, on SQLite and PostgreSQL: a statement that runs past the timeout is
stopped and named, a result over the row cap fails naming the query, the cap and the spec field
that raises it, and the spec's `sources.sql` validates both."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from agentjobs.jobs.spec import SqlSource
from agentjobs.sources.errors import PermanentSourceError
from agentjobs.sources.read_only import RowCapError, StatementTimeoutError
from agentjobs.sources.sql import read_tables
from agentjobs.sources.sql_limits import DEFAULT_LIMITS, ReadLimits
from agentjobs.sources.teams import Query
from tests.business import fixtures

pg_schema = fixtures.pg_schema

# Counts without end: only the cap (or the timeout) stops it, so it passes only if the reader
# stops fetching at cap + 1 rows instead of reading the whole result first.
ENDLESS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n"


@pytest.fixture
def sqlite_db(tmp_path: Path) -> sa.Engine:
    # One pooled connection: whatever the reader leaves on it, the next user gets.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'n.db'}", pool_size=1, max_overflow=0)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO notes (id) VALUES (1), (2), (3)")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_db(pg_schema) -> sa.Engine:
    engine, _ = pg_schema
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO notes (id) VALUES (1), (2), (3)")
    return engine


@pytest.fixture(params=["sqlite", "postgres"])
def db(request) -> sa.Engine:
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


def test_a_result_over_the_row_cap_fails_naming_the_query_the_cap_and_the_field(db):
    notes = {"notes": Query("SELECT id FROM notes ORDER BY id")}
    assert read_tables(db, notes, ReadLimits(row_cap=3)) == {"notes": [{"id": 1}, {"id": 2}, {"id": 3}]}
    with pytest.raises(RowCapError) as over:
        read_tables(db, notes, ReadLimits(row_cap=2))
    message = str(over.value)
    assert "query 'notes' returned more than 2 rows" in message
    assert "'SELECT id FROM notes ORDER BY id'" in message and "sources.sql.row_cap" in message
    assert isinstance(over.value, PermanentSourceError)  # a retry reads the same rows


def test_the_cap_stops_the_fetch_of_a_result_without_end(db):
    started = time.monotonic()
    with pytest.raises(RowCapError, match="query 'endless' returned more than 1000 rows"):
        read_tables(db, {"endless": Query(ENDLESS)}, ReadLimits(row_cap=1000, statement_timeout_s=20))
    assert time.monotonic() - started < 10  # not the timeout


def test_a_statement_past_the_timeout_is_stopped_and_named(db):
    slow = "SELECT COUNT(*) AS n FROM (" + ENDLESS + ") AS counted"
    started = time.monotonic()
    with pytest.raises(StatementTimeoutError) as stopped:
        read_tables(db, {"slow": Query(slow)}, ReadLimits(statement_timeout_s=0.5))
    assert 0.5 <= time.monotonic() - started < 5
    message = str(stopped.value)
    assert "query 'slow' ran longer than the statement timeout of 0.5 s" in message
    assert "sources.sql.statement_timeout_s" in message and "WITH RECURSIVE" in message
    # The connection reads again at once, its next statement under no leftover deadline.
    assert read_tables(db, {"n": Query("SELECT COUNT(*) AS n FROM notes")}) == {"n": [{"n": 3}]}


def test_pg_sleep_is_allowed_and_the_timeout_stops_it(pg_db):
    started = time.monotonic()
    with pytest.raises(
        StatementTimeoutError, match="query 'nap' ran longer than the statement timeout of 1 s"
    ):
        read_tables(pg_db, {"nap": Query("SELECT pg_sleep(30)")}, ReadLimits(statement_timeout_s=1))
    assert time.monotonic() - started < 5


def test_the_sqlite_deadline_is_per_statement_and_leaves_the_connection_clean(sqlite_db):
    # Quick queries read under a short timeout; its deadline ends with each statement.
    quick = {"a": Query("SELECT COUNT(*) AS n FROM notes"), "b": Query("SELECT MAX(id) AS m FROM notes")}
    limits = ReadLimits(statement_timeout_s=0.2)
    assert read_tables(sqlite_db, quick, limits) == {"a": [{"n": 3}], "b": [{"m": 3}]}
    time.sleep(0.3)  # past the deadlines: a handler left on the pooled connection would interrupt
    with sqlite_db.begin() as conn:  # the writing kinds' path, on the same connection
        # Thousands of rows: SQLite calls a progress handler only every 1000 instructions.
        conn.exec_driver_sql(f"INSERT INTO notes (id) SELECT i + 3 FROM ({ENDLESS} LIMIT 5000)")
    with sqlite_db.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM notes").scalar_one() == 5003


def test_the_spec_sets_both_limits_within_bounds():
    assert SqlSource().limits() == DEFAULT_LIMITS
    custom = SqlSource.model_validate({"row_cap": 500_000, "statement_timeout_s": 300})
    assert custom.limits() == ReadLimits(row_cap=500_000, statement_timeout_s=300)
    for wrong in (
        {"row_cap": 0},
        {"row_cap": 10_000_001},
        {"row_cap": "1000"},
        {"row_cap": True},
        {"statement_timeout_s": 0},
        {"statement_timeout_s": -1},
        {"statement_timeout_s": 3601},
        {"statement_timeout_s": float("inf")},
    ):
        with pytest.raises(ValidationError) as refused:
            SqlSource.model_validate(wrong)
        assert next(iter(wrong)) in str(refused.value)

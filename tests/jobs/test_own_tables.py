"""agentjobs' own ledger beside a user's tables (jobs/own_tables.py): in a schema of its own on
PostgreSQL, created when missing and left as it is when present; a plain table on SQLite; text ids
(a uuid fits) and no foreign key into the user's tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from agentjobs.jobs.own_tables import ensure_ledger


def _judged(record_id: str) -> dict[str, Any]:
    return {
        "record_type": "receipt",
        "record_id": record_id,
        "team_id": "t1",
        "judged_for": "2026-11-30",
        "outcome": "linked",
        "note": "",
        "processed_at": datetime(2026, 12, 1, 9),
    }


def test_on_postgresql_the_ledger_gets_a_schema_of_its_own_once(pg_schema: tuple[sa.Engine, str]):
    engine, schema = pg_schema
    own = f"{schema}_own"  # a name no other test uses; dropped with the test's schema below
    try:
        table = ensure_ledger(engine, own)
        assert table.schema == own
        record = str(uuid.uuid4())
        with engine.begin() as conn:
            conn.execute(table.insert(), _judged(record))
        again = ensure_ledger(engine, own)  # a second fetch: nothing is recreated or lost
        with engine.connect() as conn:
            assert conn.execute(sa.select(again.c.record_id)).scalars().all() == [record]
        inspector = sa.inspect(engine)
        assert "processed_records" in inspector.get_table_names(schema=own)
        assert inspector.get_foreign_keys("processed_records", schema=own) == []
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{own}" CASCADE')


def test_on_sqlite_it_is_a_table_of_the_same_file(tmp_path: Path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'business.db'}")
    table = ensure_ledger(engine, "agentjobs")
    assert table.schema is None
    with engine.begin() as conn:
        conn.execute(table.insert(), _judged("rcpt-0042"))
    assert sa.inspect(engine).get_table_names() == ["processed_records"]
    engine.dispose()

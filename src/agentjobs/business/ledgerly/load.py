"""Load a generated Ledgerly database into a PostgreSQL schema of its own (default `ledgerly`).

One transaction: the schema and tables are created if missing, every table's rows deleted and
the generated ones inserted, so a reader sees the old data or the new, never a mix, a failed
load leaves the old data, and loading twice leaves what loading once does.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from agentjobs.business.ledgerly.schema import SCHEMA, TABLES, metadata

CHUNK = 5000  # rows per executemany: bounded statement size on the big tables
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def load(engine: sa.Engine, rows: dict[str, list[dict[str, Any]]], schema: str = SCHEMA) -> dict[str, int]:
    """Replace every Ledgerly table in `schema` with `rows` (generate.py's); the row count per table."""
    if engine.dialect.name != "postgresql":
        raise ValueError(
            f"the Ledgerly schema is PostgreSQL's (uuid, timestamptz); not {engine.dialect.name}"
        )
    if not _IDENTIFIER.fullmatch(schema):
        raise ValueError(f"schema name {schema!r}: use lower-case letters, digits and _")
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        # The tables carry no schema of their own; this renders them as "<schema>.<table>".
        dst = conn.execution_options(schema_translate_map={None: schema})
        metadata.create_all(dst)
        for table in reversed(TABLES):  # children first, for the foreign keys
            dst.execute(table.delete())
        for table in TABLES:
            table_rows = rows.get(table.name, [])
            for start in range(0, len(table_rows), CHUNK):
                dst.execute(table.insert(), table_rows[start : start + CHUNK])
            counts[table.name] = len(table_rows)
    return counts


def has_rows(engine: sa.Engine, schema: str = SCHEMA) -> bool:
    """Whether `schema` already holds a loaded Ledgerly database (it may hold the jobs' writes)."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f'"{schema}".workspaces'}
        ).scalar_one()
        if not found:
            return False
        return conn.exec_driver_sql(f'SELECT EXISTS (SELECT 1 FROM "{schema}".workspaces)').scalar_one()

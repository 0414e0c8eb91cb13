"""Copy a generated sample database (SQLite) into another database, e.g. PostgreSQL.

The copy is one transaction on the target: the tables are created if missing, their rows
deleted and the source's inserted, so a reader sees the old data or the new, never a mix, and a
failed copy leaves the old data in place.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from agentjobs.business.schema import TABLES, metadata

CHUNK = 5000  # rows per executemany: bounded memory on the big tables


def load_into(sqlite_path: Path, engine: sa.Engine, schema: str | None = None) -> dict[str, int]:
    """Replace every business table in `engine`'s database (in `schema`, if given) with the rows of
    the SQLite file; returns the row count per table."""
    sqlite_path = Path(sqlite_path)
    if not sqlite_path.is_file():
        raise FileNotFoundError(
            f"no sample database at {sqlite_path}; generate it first (agentjobs business-db)"
        )
    source = sa.create_engine(f"sqlite:///{sqlite_path}")
    counts: dict[str, int] = {}
    try:
        with source.connect() as src, engine.begin() as dst:
            if schema is not None:
                # The tables have no schema of their own; this renders them as "<schema>.<table>".
                dst = dst.execution_options(schema_translate_map={None: schema})
            metadata.create_all(dst)
            for table in reversed(TABLES):  # children first, for the foreign keys
                dst.execute(table.delete())
            for table in TABLES:
                rows = src.execute(sa.select(table).order_by(*table.primary_key.columns))
                counts[table.name] = 0
                while chunk := rows.mappings().fetchmany(CHUNK):
                    dst.execute(table.insert(), [dict(r) for r in chunk])
                    counts[table.name] += len(chunk)
    finally:
        source.dispose()
    return counts

"""Create a module's own tables when they are missing, safe when several workers start at once.

The run log, the delivery ledger, the claims and the rate limiter each create their tables on
first use. On PostgreSQL two processes that both find a table missing both send CREATE TABLE;
the loser waits for the winner's transaction and then fails on the catalogue's unique index
(UniqueViolation on pg_type), though the table it wanted now exists. That loss is no error.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError


def create_tables(metadata: sa.MetaData, engine: sa.Engine) -> None:
    """Every table of `metadata` exists on `engine` afterwards, or the error that prevented it is raised."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except SQLAlchemyError:
        inspector = sa.inspect(engine)
        if not all(inspector.has_table(table.name, schema=table.schema) for table in metadata.sorted_tables):
            raise

"""The `sql` source reads and never writes: one parsed SELECT, in a read-only transaction.

Kinds' queries are code, but a future kind's bug (or a query built from a setting) must not be
able to change the business database through the reader: on SQLite a `DROP TABLE` commits as
it runs, and on PostgreSQL `DELETE ...; COMMIT; SELECT 1` deletes and commits in one call.
Two layers, each enough alone for what the other misses:

- `check_select` parses the query (sqlparse, the parser common-sql uses): exactly one statement,
  a SELECT (or WITH ... SELECT), holding no other DML or DDL keyword (a `WITH d AS (DELETE ...)`
  or `SELECT ... FOR UPDATE`) and no `INTO` (PostgreSQL's `SELECT ... INTO` creates a table).
- `read_only_transaction` runs the reads where the database itself refuses a write: SQLite's
  `PRAGMA query_only` on the connection (reset before it goes back to the pool, which the
  writing kinds share), and elsewhere a transaction opened with `SET TRANSACTION READ ONLY`,
  which PostgreSQL confirms in `transaction_read_only` before any query runs.

Kinds that write (reconciliation, enrichment) write through their own path (`engine.begin()`
in `jobs/kinds/*_write.py`), never through this reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
import sqlparse
from sqlparse import tokens

from agentjobs.sources.errors import SourceError


class WritingQueryError(SourceError):
    """A query of the `sql` source is not one read-only SELECT; the message names what is not."""


def check_select(sql: str) -> None:
    """Nothing when `sql` is one SELECT (or WITH ... SELECT) that writes nothing; else WritingQueryError."""
    statements = [s for s in sqlparse.parse(sql) if s.token_first(skip_cm=True) is not None]
    if len(statements) != 1:
        raise WritingQueryError(
            f"a sql source query must be exactly one statement, got {len(statements)}: {_quoted(sql)}; "
            "run one SELECT per named query"
        )
    (statement,) = statements
    if statement.get_type() != "SELECT":
        raise WritingQueryError(
            f"a sql source query must be a SELECT (or WITH ... SELECT), got {statement.get_type()}: "
            f"{_quoted(sql)}; kinds that write do it through their own write path, not the reader"
        )
    for token in statement.flatten():
        writes = token.ttype in tokens.Keyword.DML and token.normalized != "SELECT"
        into = token.is_keyword and token.normalized == "INTO"
        if writes or into or token.ttype in tokens.Keyword.DDL:
            raise WritingQueryError(
                f"a sql source query may only read, but {token.normalized} appears in {_quoted(sql)}; "
                "remove it (writes go through the kind's own write path)"
            )


def _quoted(sql: str) -> str:
    text = " ".join(sql.split())
    return repr(text if len(text) <= 200 else text[:199] + "…")


@contextmanager
def read_only_transaction(conn: sa.Connection) -> Iterator[None]:
    """The reads on `conn` inside this block cannot write, whatever SQL they hold."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = ON")
        try:
            yield
        finally:
            # The pooled connection serves the writing kinds next; if it cannot be reset, it goes.
            try:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA query_only = OFF")
            except sa.exc.DBAPIError:
                conn.invalidate()
                raise
        return
    transaction = conn.begin()
    try:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        # In autocommit SET TRANSACTION only warns: refuse to read rather than read writable.
        postgres = conn.dialect.name == "postgresql"
        if postgres and conn.exec_driver_sql("SHOW transaction_read_only").scalar() != "on":
            raise SourceError(
                "the business database connection did not open a read-only transaction "
                "(is it in autocommit mode?); give the sql source a connection without autocommit"
            )
        yield
    finally:
        transaction.rollback()  # nothing to commit: the block only read

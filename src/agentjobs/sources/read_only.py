"""The `sql` source reads and never writes: one parsed SELECT, in a read-only transaction, limited.

Users map a kind's inputs to SQL of their own, so a query may hold anything a person types or
pastes; it must not be able to change the business database through the reader: on SQLite a
`DROP TABLE` commits as it runs, and on PostgreSQL `DELETE ...; COMMIT; SELECT 1` deletes and
commits in one call. Two layers, each enough alone for what the other misses:

- `check_select` parses the query with sqlglot in the connection's dialect (a syntax tree, not
  a pattern, so a `;` or `DELETE` inside a string or a comment is text): exactly one statement,
  a SELECT or a set operation (UNION, ...), every CTE a SELECT too, and nowhere in the tree a
  DML or DDL statement (`WITH d AS (DELETE ...)`), `COPY`, `INTO` (PostgreSQL's `SELECT ...
  INTO` creates a table), a locking clause (`FOR UPDATE`/`SHARE`), or a call to a function whose
  effect a read-only transaction does not stop (`_SIDE_EFFECTS`: it signals another session,
  takes a lock that outlives the transaction, changes a setting such as the timeout below, reads
  the server's files, runs SQL text this check cannot see, ...).
- `read_only_transaction` runs the reads where the database itself refuses a write: SQLite's
  `PRAGMA query_only` on the connection (reset before it goes back to the pool, which the
  writing kinds share), and elsewhere a transaction opened with `SET TRANSACTION READ ONLY`,
  which PostgreSQL confirms in `transaction_read_only` before any query runs. It rolls back,
  so a `set_config` the parser missed ends with it.

`read_rows` runs one checked query in that transaction under the two limits of `ReadLimits`: a
statement timeout (PostgreSQL `SET LOCAL statement_timeout`; SQLite a progress handler that
interrupts the statement past its deadline) and a row cap (at most cap + 1 rows are fetched,
through a server-side cursor where the driver has one; more fails).

Kinds that write (reconciliation, enrichment) write through their own path (`engine.begin()`
in `jobs/kinds/*_write.py`), never through this reader.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from agentjobs.sources.errors import PermanentSourceError, SourceError
from agentjobs.sources.sql_limits import ReadLimits


class WritingQueryError(PermanentSourceError):
    """A query of the `sql` source is not one read-only SELECT; the message names what is not."""


class RowCapError(PermanentSourceError):
    """A query returned more rows than the spec's `sources.sql.row_cap`."""


class StatementTimeoutError(SourceError):
    """A query ran longer than the spec's `sources.sql.statement_timeout_s`."""


# SQLAlchemy's dialect name -> sqlglot's; another name is parsed in sqlglot's generic dialect.
_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mssql": "tsql"}

# Statements that may not appear anywhere in the tree (a CTE, a subquery, the root).
_NOT_READS = (
    exp.DML,  # INSERT, UPDATE, DELETE, MERGE, COPY
    exp.DDL,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Into,
    exp.Lock,
    exp.Command,  # what sqlglot cannot parse further: CALL, LOCK, EXPLAIN ANALYZE, ...
    exp.Pragma,
    exp.Set,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Attach,
    exp.Detach,
    exp.Analyze,
    exp.Grant,
    exp.Revoke,
    exp.Use,
    exp.Kill,
    exp.LoadData,
    exp.Refresh,
    exp.Comment,
    exp.Declare,
    exp.Execute,
)

# Functions with an effect a read-only transaction does not stop (each tried on PostgreSQL 15 in a
# READ ONLY transaction: they ran), or that run SQL text the parser cannot see. Names are
# compared lower-cased, schema-qualified or not. pg_sleep is not here: the statement timeout
# stops it. nextval/setval are refused by PostgreSQL itself but are never a read.
_SIGNALS = "it signals another server process"
_SETTING = "it changes a setting of the session (the statement timeout too)"
_LOCK = "it takes an advisory lock that outlives the transaction"
_FILES = "it reads the database server's own files"
_SERVER = "it acts on the database server itself"
_OUTSIDE = "it runs SQL text, or opens a connection, that this check cannot see"
_LARGE_OBJECTS = "it creates, reads or exports large objects (server files)"
_SQLITE_NATIVE = "it loads native code or touches files from the SQLite process"
_SIDE_EFFECTS: dict[str, str] = {
    "pg_terminate_backend": _SIGNALS,
    "pg_cancel_backend": _SIGNALS,
    "pg_log_backend_memory_contexts": _SIGNALS,
    "set_config": _SETTING,
    "pg_notify": "it sends a notification to other sessions",
    "txid_current": "it assigns a transaction id, which a read does not need",
    "pg_current_xact_id": "it assigns a transaction id, which a read does not need",
    "nextval": "it advances a sequence",
    "setval": "it sets a sequence",
    "pg_read_file": _FILES,
    "pg_read_binary_file": _FILES,
    "pg_stat_file": _FILES,
    "pg_reload_conf": _SERVER,
    "pg_rotate_logfile": _SERVER,
    "pg_switch_wal": _SERVER,
    "pg_switch_xlog": _SERVER,
    "pg_create_restore_point": _SERVER,
    "pg_promote": _SERVER,
    "pg_backup_start": _SERVER,
    "pg_backup_stop": _SERVER,
    "pg_start_backup": _SERVER,
    "pg_stop_backup": _SERVER,
    "pg_wal_replay_pause": _SERVER,
    "pg_wal_replay_resume": _SERVER,
    "pg_import_system_collations": _SERVER,
    "pg_logical_emit_message": _SERVER,
    "pg_create_physical_replication_slot": _SERVER,
    "pg_create_logical_replication_slot": _SERVER,
    "pg_drop_replication_slot": _SERVER,
    "pg_copy_physical_replication_slot": _SERVER,
    "pg_copy_logical_replication_slot": _SERVER,
    "pg_replication_slot_advance": _SERVER,
    "query_to_xml": _OUTSIDE,
    "query_to_xmlschema": _OUTSIDE,
    "query_to_xml_and_xmlschema": _OUTSIDE,
    "cursor_to_xml": _OUTSIDE,
    "cursor_to_xmlschema": _OUTSIDE,
    "loread": _LARGE_OBJECTS,
    "lowrite": _LARGE_OBJECTS,
    "load_extension": _SQLITE_NATIVE,
    "readfile": _SQLITE_NATIVE,
    "writefile": _SQLITE_NATIVE,
    "edit": _SQLITE_NATIVE,
    "fts3_tokenizer": _SQLITE_NATIVE,
}
# Families named by their prefix: every advisory lock function, dblink_*, lo_*, pg_ls_*, ...
_SIDE_EFFECT_PREFIXES: dict[str, str] = {
    "pg_advisory_": _LOCK,
    "pg_try_advisory_": _LOCK,
    "dblink": _OUTSIDE,
    "lo_": _LARGE_OBJECTS,
    "pg_ls_": _FILES,
    "pg_file_": _FILES,  # adminpack's pg_file_write, pg_file_rename, pg_file_unlink
    "pg_stat_reset": _SERVER,
    "pg_replication_origin_": _SERVER,
    "pg_logical_slot_": _SERVER,
}


def sqlglot_dialect(name: str) -> str | None:
    """sqlglot's name of SQLAlchemy's dialect `name` (None: sqlglot's generic SQL)."""
    return _DIALECTS.get(name)


def check_select(sql: str, dialect: str | None = None) -> None:
    """Nothing when `sql` is one SELECT that writes nothing; else WritingQueryError naming why.

    `dialect` is sqlglot's name of the connection's dialect (`postgres`, `sqlite`; None: generic).
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        raise WritingQueryError(
            f"a sql source query must parse as {dialect or 'standard'} SQL, but {_parse_problem(exc)}: "
            f"{_quoted(sql)}; write one SELECT in the connection's dialect"
        ) from None
    if len(statements) != 1:
        raise WritingQueryError(
            f"a sql source query must be exactly one statement, got {len(statements)}: {_quoted(sql)}; "
            "run one SELECT per named query"
        )
    (statement,) = statements
    if not isinstance(statement, exp.Query):
        raise WritingQueryError(
            f"a sql source query must be a SELECT (or WITH ... SELECT), got {_what(statement, dialect)}: "
            f"{_quoted(sql)}; kinds that write do it through their own write path, not the reader"
        )
    for node in statement.walk():
        if isinstance(node, _NOT_READS):
            raise WritingQueryError(
                f"a sql source query may only read, but {_what(node, dialect)} appears in {_quoted(sql)}; "
                "remove it (writes go through the kind's own write path)"
            )
        # A CTE that writes is named by the walk's next step (DELETE appears); VALUES etc. here.
        if isinstance(node, exp.CTE) and not isinstance(node.this, (exp.Query, *_NOT_READS)):
            raise WritingQueryError(
                f"a sql source query may only read, but its CTE {node.alias or '?'} is a "
                f"{_what(node.this, dialect)}, not a SELECT: {_quoted(sql)}; make every CTE a SELECT"
            )
        if isinstance(node, exp.Func):
            for name in _function_names(node):
                why = _side_effect(name)
                if why is not None:
                    raise WritingQueryError(
                        f"a sql source query may only read, but {name}() appears in {_quoted(sql)}: "
                        f"{why}, which a read-only transaction does not stop; remove it"
                    )


def _parse_problem(exc: ParseError | TokenError) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        first = errors[0]
        return f"{first.get('description')} at line {first.get('line')}, column {first.get('col')}"
    return " ".join(str(exc).split())


def _what(node: exp.Expression, dialect: str | None) -> str:
    """The SQL words that name `node`: DROP, DELETE, INTO, FOR UPDATE, PRAGMA, CALL, ..."""
    if isinstance(node, exp.Lock):  # built here: SQLite's generator prints no locking clause
        strength = "UPDATE" if node.args.get("update") else "SHARE"
        key = ("NO KEY " if strength == "UPDATE" else "KEY ") if node.args.get("key") else ""
        return f"FOR {key}{strength}"
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    words = node.sql(dialect=dialect).split(None, 1)
    return words[0].upper() if words else node.key.upper()


def _function_names(node: exp.Func) -> list[str]:
    """What `node` is called, lower-cased: as written for a function sqlglot does not know, else
    every name sqlglot gives its class (so a side-effect function it learns to type still counts)."""
    if isinstance(node, exp.Anonymous):
        return [node.name.lower()]
    return [name.lower() for name in node.sql_names()]


def _side_effect(name: str) -> str | None:
    if name in _SIDE_EFFECTS:
        return _SIDE_EFFECTS[name]
    return next((why for prefix, why in _SIDE_EFFECT_PREFIXES.items() if name.startswith(prefix)), None)


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
        transaction.rollback()  # nothing to commit: the block only read; SET LOCALs end here


def read_rows(
    conn: sa.Connection,
    name: str,
    sql: str,
    statement: sa.Executable,
    params: Mapping[str, Any],
    limits: ReadLimits,
) -> tuple[list[str], Sequence[sa.Row[Any]]]:
    """The column names and rows of query `name` (its text `sql`, compiled as `statement`), run on
    `conn` inside `read_only_transaction` within `limits`; StatementTimeoutError or RowCapError
    name the query, the limit and the spec field that raises it."""
    if conn.dialect.supports_server_side_cursors:
        # Else psycopg2 fetches the whole result into memory at execute, cap or no cap.
        statement = statement.execution_options(stream_results=True)
    with statement_deadline(conn, name, sql, limits.statement_timeout_s):
        result = conn.execute(statement, dict(params))
        columns = list(result.keys())
        rows = result.fetchmany(limits.row_cap + 1)
        result.close()
    if len(rows) > limits.row_cap:
        raise RowCapError(
            f"sql source query {name!r} returned more than {limits.row_cap} rows, the row cap: "
            f"{_quoted(sql)}; narrow it (a WHERE on the period and the team) or raise "
            "sources.sql.row_cap in the spec"
        )
    return columns, rows


@contextmanager
def statement_deadline(conn: sa.Connection, name: str, sql: str, timeout_s: float) -> Iterator[None]:
    """The statement run inside stops after `timeout_s` seconds, as a StatementTimeoutError."""
    dialect = conn.dialect.name
    fired = False
    sqlite_connection = None
    if dialect == "postgresql":
        # LOCAL: it ends with the read-only transaction, never reaching the pooled connection.
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, round(timeout_s * 1000))}")
    elif dialect == "sqlite":
        deadline = time.monotonic() + timeout_s

        def past_deadline() -> int:
            nonlocal fired
            fired = time.monotonic() > deadline
            return int(fired)  # non-zero interrupts the statement

        sqlite_connection = conn.connection.driver_connection
        # Called every 1000 virtual machine instructions: microseconds apart.
        sqlite_connection.set_progress_handler(past_deadline, 1000)
    try:
        yield
    except sa.exc.DBAPIError as exc:
        # 57014 query_canceled: psycopg2 names it pgcode, psycopg 3 sqlstate.
        code = getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)
        cancelled = code == "57014"
        if fired or (dialect == "postgresql" and cancelled):
            raise StatementTimeoutError(
                f"sql source query {name!r} ran longer than the statement timeout of {timeout_s:g} s "
                f"and was stopped: {_quoted(sql)}; make it cheaper (a narrower WHERE, an index) or "
                "raise sources.sql.statement_timeout_s in the spec"
            ) from None
        raise
    finally:
        if sqlite_connection is not None:
            sqlite_connection.set_progress_handler(None, 1000)

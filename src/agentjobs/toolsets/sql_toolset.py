"""A read-only SQL toolset on a common-sql connection: list_tables, describe_table and query.

The model writes the SQL here, so the query is as hostile as any source text. It gets the same
two layers as the `sql` source (sources/read_only.py), each enough alone for what the other
misses: `check_select` parses it (one statement, a SELECT, nothing that writes anywhere in the
tree, no function with an effect a read-only transaction does not stop), and it runs inside
`read_only_transaction` (SQLite `PRAGMA query_only`, elsewhere `SET TRANSACTION READ ONLY`,
confirmed on PostgreSQL), under a statement timeout, rolled back. `tables=` narrows what the
model may name; a database role that can only read is still the boundary to rely on.

Unlike the source, a query that returns too many rows is not an error: the model sees the first
`max_rows` and a note asking it to narrow the query, as a person at a SQL prompt would.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import pydantic
import sqlalchemy as sa

from agentjobs.agent.tools import Tool, tool_from_function
from agentjobs.jobs.prompt_data import as_data
from agentjobs.toolsets.data_block import cut, data_block

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 100
DEFAULT_MAX_CHARS = 16_000  # under the registry's 20,000, so the closing </data> survives
DEFAULT_MAX_CELL_CHARS = 1_000
DEFAULT_TIMEOUT_S = 30.0


class SQLToolsetError(Exception):
    """The toolset cannot run (its connection) or refused a call; the message says what to do."""


class SQLToolset:
    """Read-only tools on the database of Airflow connection `conn_id` (any common-sql hook).

    `tables`: the only tables (or views) of `schema` the model may see and query, by name
    (`orders`; `sales.orders` when `schema="sales"`); None: every table of `schema`.
    `schema`: the schema listed and described (on PostgreSQL also the `search_path` of each
    query); None: the connection's default. `max_rows`, `max_chars`, `max_cell_chars`: what one
    result may show. `timeout_s`: how long one statement may run. `prefix`: put before each tool
    name, to offer two databases in one run (`sales_query`, `crm_query`).
    """

    def __init__(
        self,
        conn_id: str,
        *,
        tables: Sequence[str] | None = None,
        schema: str | None = None,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_chars: int = DEFAULT_MAX_CHARS,
        max_cell_chars: int = DEFAULT_MAX_CELL_CHARS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        prefix: str = "",
    ) -> None:
        if max_rows < 1 or max_chars < 200 or max_cell_chars < 10 or timeout_s <= 0:
            raise ValueError(
                "SQLToolset needs max_rows >= 1, max_chars >= 200, max_cell_chars >= 10 and timeout_s > 0"
            )
        if isinstance(tables, str):
            raise TypeError("SQLToolset tables= takes a list of table names, not one string")
        self.conn_id = conn_id
        self.tables = None if tables is None else tuple(_bare(entry, schema) for entry in tables)
        self.schema = schema
        self.max_rows = max_rows
        self.max_chars = max_chars
        self.max_cell_chars = max_cell_chars
        self.timeout_s = timeout_s
        self.prefix = prefix
        self._engine: sa.Engine | None = None

    # ------------------------------------------------------------------ the Toolset protocol

    def tools(self) -> Sequence[Tool]:
        """The three tools; resolves the connection now, so a missing one fails the run at start."""
        self._engine = self._connect()
        scope = f"tables {list(self.tables)}" if self.tables is not None else "every table it lists"
        return [
            tool_from_function(
                self.list_tables,
                name=f"{self.prefix}list_tables",
                description=f"List the tables and views of the database you may query ({scope}).",
            ),
            tool_from_function(
                self.describe_table,
                name=f"{self.prefix}describe_table",
                description="The columns of one table: name, type, nullable, primary and foreign keys.",
            ),
            tool_from_function(
                self.query,
                name=f"{self.prefix}query",
                description=(
                    f"Run one read-only SELECT (or WITH ... SELECT) on the {self._dialect()} database and "
                    f"get its rows as JSON arrays, at most {self.max_rows} rows; statements that write "
                    f"are refused. It is stopped after {self.timeout_s:g} s: aggregate and filter in SQL."
                ),
            ),
        ]

    def close(self) -> None:
        # The engine is the process's shared one for this connection (sources/sql.py), pooled
        # with the jobs' reads: it is not this toolset's to dispose.
        self._engine = None

    # ------------------------------------------------------------------ the tools

    def list_tables(self) -> str:
        """List the tables and views you may query."""
        names = self._visible()
        if not names:
            return "(no tables visible)"
        return data_block(names, max_chars=self.max_chars, more="ask describe_table about one table")

    def describe_table(
        self, table: Annotated[str, pydantic.Field(description="a table name from list_tables")]
    ) -> str:
        """The columns of one table."""
        name = self._known(table)
        with self._reading() as conn:
            inspector = sa.inspect(conn)
            columns = inspector.get_columns(name, schema=self.schema)
            primary = inspector.get_pk_constraint(name, schema=self.schema).get("constrained_columns") or []
            foreign = inspector.get_foreign_keys(name, schema=self.schema)
        lines = [f"table: {name}"]
        for column in columns:
            # SQLite reflects an INTEGER PRIMARY KEY as nullable: a key says enough.
            if column["name"] in primary:
                mark = "primary key"
            else:
                mark = "null" if column.get("nullable", True) else "not null"
            lines.append(f"- {column['name']} {column['type']} ({mark})")
        for key in foreign:
            lines.append(
                f"foreign key ({', '.join(key['constrained_columns'])}) references "
                f"{key['referred_table']} ({', '.join(key['referred_columns'])})"
            )
        return data_block(lines, max_chars=self.max_chars)

    def query(
        self,
        sql: Annotated[str, pydantic.Field(description="one SELECT statement, in the database's dialect")],
    ) -> str:
        """Run one read-only SELECT and get its rows."""
        columns, rows, more = self._run(sql)
        lines = [json.dumps(columns, ensure_ascii=False)]
        lines += [
            json.dumps([self._cell(v, c) for v, c in zip(row, columns, strict=True)], ensure_ascii=False)
            for row in rows
        ]
        text = data_block(
            lines, max_chars=self.max_chars, more="select fewer or narrower columns, or aggregate in SQL"
        )
        if more:
            return text + (
                f"\n[only the first {self.max_rows} rows are shown; more exist: add a WHERE, a LIMIT or "
                "an aggregate]"
            )
        return text + f"\n[{len(rows)} row{'s' if len(rows) != 1 else ''}]"

    # ------------------------------------------------------------------ how they read

    def _connect(self) -> sa.Engine:
        from agentjobs.sources.sql import BusinessDbError, connection_engine

        try:
            return connection_engine(self.conn_id)
        except BusinessDbError as exc:
            raise SQLToolsetError(f"SQLToolset({self.conn_id!r}): {exc}") from None

    def _engine_or_fail(self) -> sa.Engine:
        if self._engine is None:
            raise SQLToolsetError("the SQL toolset is closed (or tools() was not called)")
        return self._engine

    def _dialect(self) -> str:
        return self._engine_or_fail().dialect.name

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        """A connection in a read-only transaction (rolled back after), scoped to `schema`."""
        from agentjobs.sources.read_only import read_only_transaction

        with self._engine_or_fail().connect() as conn, read_only_transaction(conn):
            if self.schema is not None and conn.dialect.name == "postgresql":
                # LOCAL: ends with the transaction, never reaching the pooled connection.
                quoted = conn.dialect.identifier_preparer.quote_identifier(self.schema)
                conn.exec_driver_sql(f"SET LOCAL search_path TO {quoted}")
            yield conn

    def _visible(self) -> list[str]:
        """The tables and views the model may name, in the database's order of names."""
        with self._reading() as conn:
            inspector = sa.inspect(conn)
            names = inspector.get_table_names(schema=self.schema) + inspector.get_view_names(
                schema=self.schema
            )
        if self.tables is None:
            return sorted(names)
        wanted = {entry.lower() for entry in self.tables}
        return sorted(name for name in names if name.lower() in wanted)

    def _known(self, table: str) -> str:
        visible = self._visible()
        for name in visible:
            if name.lower() == table.strip().lower():
                return name
        raise SQLToolsetError(f"no table {cut(table, 80)!r} you may see; call list_tables for the names")

    def _run(self, sql: str) -> tuple[list[str], list[Sequence[Any]], bool]:
        from agentjobs.sources.read_only import (
            StatementTimeoutError,
            WritingQueryError,
            check_select,
            sqlglot_dialect,
            statement_deadline,
        )

        engine = self._engine_or_fail()
        dialect = sqlglot_dialect(engine.dialect.name)
        try:
            check_select(sql, dialect)
        except WritingQueryError as exc:
            log.warning("SQL toolset %s refused a query: %s", self.conn_id, exc)
            # The check speaks to a spec's author ("a sql source query ...; <what to edit>"):
            # keep what it found, and tell the model what to send instead.
            found = str(exc).rsplit("; ", 1)[0].replace("a sql source query", "the query", 1)
            raise SQLToolsetError(f"refused, nothing ran: {found}; send one SELECT that only reads") from None
        self._check_tables(sql, dialect)
        try:
            with self._reading() as conn:
                options: dict[str, Any] = {"no_parameters": True}  # a '%' or ':x' in the text is text
                if conn.dialect.supports_server_side_cursors:
                    options["stream_results"] = True  # fetch max_rows + 1, not the whole result
                with statement_deadline(conn, "query", sql, self.timeout_s):
                    result = conn.execution_options(**options).exec_driver_sql(sql)
                    if not result.returns_rows:
                        raise SQLToolsetError("the statement returned no rows; send one SELECT")
                    columns = list(result.keys())
                    rows = result.fetchmany(self.max_rows + 1)
                    result.close()
        except StatementTimeoutError:
            raise SQLToolsetError(
                f"the query ran longer than {self.timeout_s:g} s and was stopped; ask for less "
                "(a WHERE on an indexed column, a LIMIT, an aggregate)"
            ) from None
        except sa.exc.DBAPIError as exc:
            # The driver's own words (a syntax error, an unknown column, a refused write), without
            # SQLAlchemy's echo of the statement; they may quote the database's values: escaped.
            said = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
            raise SQLToolsetError(f"the database refused the query: {as_data(cut(said, 500))}") from None
        return columns, list(rows[: self.max_rows]), len(rows) > self.max_rows

    def _check_tables(self, sql: str, dialect: str | None) -> None:
        """With `tables=`, every table the query names is one of them (CTE names are its own)."""
        if self.tables is None:
            return
        import sqlglot
        from sqlglot import exp

        allowed = {entry.lower() for entry in self.tables}
        own_schema = (self.schema or "").lower()
        (statement,) = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]  # checked: one
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            name, schema = table.name.lower(), table.db.lower()
            if not name or (not schema and name in ctes):
                continue  # a table function's alias, or the query's own CTE
            if name in allowed and schema in ("", own_schema):
                continue  # the same name in another schema is another table
            shown = f"{schema}.{name}" if schema else name
            raise SQLToolsetError(
                f"refused, nothing ran: table {shown!r} is not one you may query; call list_tables"
            )

    def _cell(self, value: Any, column: str) -> Any:
        from agentjobs.sources.sql import json_value

        sqlite = self._dialect() == "sqlite"
        try:
            shown = json_value(value, column, sqlite)
        except TypeError:  # bytes, arrays, JSON documents, ...: their text, as a reader would see it
            shown = f"<{len(value)} bytes>" if isinstance(value, bytes | memoryview) else str(value)
        return cut(shown, self.max_cell_chars) if isinstance(shown, str) else shown


def _bare(entry: str, schema: str | None) -> str:
    """A `tables=` entry without its schema, which must be the toolset's `schema`."""
    if "." not in entry:
        return entry
    owner, name = entry.rsplit(".", 1)
    if schema is None or owner.lower() != schema.lower():
        raise ValueError(
            f"SQLToolset tables= names {entry!r}, outside schema={schema!r}: the tables are those of one "
            "schema; set schema= (one toolset per schema, with prefix= to tell them apart)"
        )
    return name

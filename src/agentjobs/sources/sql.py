"""The `sql` source: named, parameterised queries over the business database, rows as JSON values.

`read_tables` / `read_teams` take a SQLAlchemy engine (tests, the CLI); `fetch_tables` /
`fetch_teams` get it from an Airflow connection whose hook is a common-sql `DbApiHook`
(`sqlite`, `postgres`, ...), one engine per connection per process. They only read: each query
is one parsed SELECT, run in a read-only transaction under a statement timeout and a row cap
(`sources/read_only.py`, `sql_limits.py`).

The same query returns the same rows from SQLite and PostgreSQL:
- Binds. Stored timestamps are naive UTC, so a datetime bind is converted to naive UTC
  (an aware one from its zone; a naive one is taken as UTC already) and bound as a DateTime,
  which SQLite compares in its stored text form and PostgreSQL as `timestamp`. Binding an aware
  value as is would compare local wall time on SQLite and a session-zone conversion on
  PostgreSQL. Dates bind as Date; a list or tuple is an expanding bind (`IN :ids`).
- Values. Datetimes become ISO 8601 UTC strings ending in `Z` ("2026-11-28T06:04:28Z",
  microseconds only when non-zero), dates ISO dates, Decimal an int when integral else a str,
  booleans bools. SQLite has no datetime or boolean storage, so there a text value of a column
  named like one of the schema's DateTime columns or ending in `_at` is read as a datetime, and
  an integer of a column named like a Boolean column (`recurring`) as a bool: alias computed
  timestamps `..._at`. Averages differ (float vs Decimal): aggregate to integers in SQL.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from agentjobs.business import schema
from agentjobs.sources.errors import BusinessDbError
from agentjobs.sources.read_only import check_select, read_only_transaction, read_rows, sqlglot_dialect
from agentjobs.sources.sql_connect import name_connect_failures
from agentjobs.sources.sql_limits import DEFAULT_LIMITS, ReadLimits
from agentjobs.sources.teams import (
    TEAMS_QUERY,
    USERS_QUERY,
    Member,
    Query,
    Team,
    TeamTarget,
    split_addresses,
    utc_naive,
)

DEFAULT_CONN_ID = "agentjobs_business"

_DATETIME_COLUMNS = frozenset(
    c.name for t in schema.TABLES for c in t.columns if isinstance(c.type, sa.DateTime)
)
_BOOLEAN_COLUMNS = frozenset(
    c.name for t in schema.TABLES for c in t.columns if isinstance(c.type, sa.Boolean)
)
# SQLAlchemy's SQLite DateTime storage format ("2026-11-28 06:04:28.000000").
_SQLITE_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?")


_MEMBER_FIELDS = ("id", "name", "email", "timezone")
_TEAM_FIELDS = ("id", "name", "timezone", "currency", "slack_channel")


def read_tables(
    engine: sa.Engine, queries: Mapping[str, Query], limits: ReadLimits = DEFAULT_LIMITS
) -> dict[str, list[dict[str, Any]]]:
    """Run each named query on one connection; its rows as dicts of JSON values, in query order.

    Each query must be one SELECT, and all run in one read-only transaction within `limits`
    (a statement timeout, a row cap per query: `sources/read_only.py`).
    """
    for query in queries.values():
        check_select(query.sql, sqlglot_dialect(engine.dialect.name))  # all of them before any runs
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn, read_only_transaction(conn):
        utc_session(conn)
        return {name: _rows(conn, name, query, sqlite, limits) for name, query in queries.items()}


def utc_session(conn: sa.Connection) -> None:
    """Pin PostgreSQL's session zone to UTC for this transaction only (SET LOCAL).

    Binds are naive UTC. Against a `timestamp` column (the sample's naive UTC) they compare as
    written; against a `timestamptz` column PostgreSQL reads a naive bind in the session's
    TimeZone, so a server or role set to Pacific/Auckland would shift the period by 13 hours.
    In UTC both compare the same instant, whatever the server's default."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")


def read_teams(
    engine: sa.Engine, queries: Mapping[str, Query] | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> list[tuple[Team, list[Member]]]:
    """Every team (id order) with its members (id order) and, when `queries` has
    `team_targets`, its further delivery targets; `queries`: the spec's mapped `teams`, `users`
    (default: the sample's) and `team_targets` queries."""
    tables = read_tables(engine, queries or {"teams": TEAMS_QUERY, "users": USERS_QUERY}, limits)
    members: dict[str, list[Member]] = {}
    for row in tables["users"]:
        team_id = row.pop("team_id")
        # Only the model's fields: a mapped view may return more columns than the contract.
        members.setdefault(team_id, []).append(Member(**{k: row[k] for k in _MEMBER_FIELDS}))
    targets: dict[str, list[TeamTarget]] = {}
    for row in tables.get("team_targets", []):  # read only when the spec maps it
        target = TeamTarget(channel=str(row["channel"]), target=str(row["target"] or ""))
        targets.setdefault(str(row["team_id"]), []).append(target)
    teams = []
    for row in tables["teams"]:
        emails = split_addresses(row.pop("email_list"))
        more = targets.get(str(row["id"]), [])
        team = Team(**{k: row[k] for k in _TEAM_FIELDS}, email_list=emails, targets=more)
        teams.append((team, members.get(team.id, [])))
    return teams


def fetch_tables(
    conn_id: str, queries: Mapping[str, Query], limits: ReadLimits = DEFAULT_LIMITS
) -> dict[str, list[dict[str, Any]]]:
    """`read_tables` on the database of Airflow connection `conn_id`."""
    return read_tables(connection_engine(conn_id), queries, limits)


def fetch_teams(
    conn_id: str = DEFAULT_CONN_ID,
    queries: Mapping[str, Query] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[tuple[Team, list[Member]]]:
    """`read_teams` on the database of Airflow connection `conn_id`."""
    return read_teams(connection_engine(conn_id), queries, limits)


teams_and_members = fetch_teams  # the name BUSINESS.md gives it


# --- binds and values -------------------------------------------------------------------------


def _bind(value: Any) -> Any:
    return utc_naive(value) if isinstance(value, datetime) else value


def statement(query: Query) -> tuple[sa.TextClause, dict[str, Any]]:
    """The query as a `text()` construct with typed binds, and its normalised parameters."""
    binds = []
    params: dict[str, Any] = {}
    for key, value in query.params.items():
        if isinstance(value, list | tuple):
            params[key] = [_bind(v) for v in value]
            first = next((v for v in value if v is not None), None)
            type_ = sa.DateTime() if isinstance(first, datetime) else None
            binds.append(sa.bindparam(key, expanding=True, type_=type_))
            continue
        params[key] = _bind(value)
        if isinstance(value, datetime):  # before date: a datetime is a date too
            binds.append(sa.bindparam(key, type_=sa.DateTime()))
        elif isinstance(value, date):
            binds.append(sa.bindparam(key, type_=sa.Date()))
    return sa.text(query.sql).bindparams(*binds), params


def _rows(
    conn: sa.Connection, name: str, query: Query, sqlite: bool, limits: ReadLimits
) -> list[dict[str, Any]]:
    clause, params = statement(query)
    columns, rows = read_rows(conn, name, query.sql, clause, params, limits)
    return [
        {column: json_value(value, column, sqlite) for column, value in zip(columns, row, strict=True)}
        for row in rows
    ]


def _iso_utc(value: datetime) -> str:
    return utc_naive(value).isoformat() + "Z"


def json_value(value: Any, column: str = "", sqlite: bool = False) -> Any:
    """A database value as JSON (see the module docstring); `column` and `sqlite` for SQLite's text."""
    if value is None or isinstance(value, bool):
        return value
    if sqlite and isinstance(value, str) and (column in _DATETIME_COLUMNS or column.endswith("_at")):
        if _SQLITE_DATETIME.fullmatch(value):
            return _iso_utc(datetime.fromisoformat(value))
        return value
    if sqlite and isinstance(value, int) and column in _BOOLEAN_COLUMNS:
        return bool(value)
    if isinstance(value, int | float | str):
        return value
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"column {column!r}: a {type(value).__name__} value has no JSON form in the sql source")


# --- the engine of an Airflow connection ------------------------------------------------------

# One engine (one pool) per connection definition in this process, keyed by a digest of the URI
# as the ledger hook does: an edited connection gets a fresh engine, no password in the key.
_engines: dict[tuple[str, str], sa.Engine] = {}
_SQLITE_CONNECT_ARGS = {"timeout": 30}  # a generator replacing the file must not fail a reader


def _forget_engines_in_child() -> None:
    # A forked worker must not reuse its parent's pooled connections.
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_forget_engines_in_child)


def _how_to_define(conn_id: str) -> str:
    return (
        f"define it, e.g. AIRFLOW_CONN_{conn_id.upper()}='sqlite:////path/business.db' or "
        f"'postgresql://user:pass@host:5432/db' (a sample SQLite database: `agentjobs business-db`)"
    )


def connection_engine(conn_id: str) -> sa.Engine:
    """The shared SQLAlchemy engine of Airflow connection `conn_id`, from its common-sql hook."""
    # Airflow is imported here, not at module level: read_tables needs only SQLAlchemy.
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk.bases.hook import BaseHook
    from airflow.sdk.exceptions import AirflowException, AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise BusinessDbError(
            f"business database connection {conn_id!r} does not exist; {_how_to_define(conn_id)}"
        ) from None
    key = (conn_id, hashlib.sha256(conn.get_uri().encode()).hexdigest())
    engine = _engines.get(key)
    if engine is not None:
        return engine
    try:
        hook = conn.get_hook()
    except (AirflowException, ImportError) as exc:
        raise BusinessDbError(
            f"business database connection {conn_id!r} has conn_type {conn.conn_type!r}, which no "
            f"installed SQL provider serves ({exc}); {_how_to_define(conn_id)}"
        ) from None
    if not isinstance(hook, DbApiHook):
        raise BusinessDbError(
            f"business database connection {conn_id!r} has conn_type {conn.conn_type!r}, whose hook "
            f"{type(hook).__name__} is not a SQL (common-sql DbApiHook) hook; {_how_to_define(conn_id)}"
        )
    sqlite = conn.conn_type == "sqlite"
    kwargs = {"connect_args": _SQLITE_CONNECT_ARGS} if sqlite else {}
    engine = _engines[key] = hook.get_sqlalchemy_engine(engine_kwargs=kwargs)
    # A failure to connect names the connection and what to check, not a bare OperationalError.
    name_connect_failures(engine, conn_id, conn)
    if sqlite:
        sa.event.listen(engine, "connect", _lenient_text)
    return engine


def _lenient_text(dbapi_connection: Any, _record: Any) -> None:
    """SQLite keeps whatever bytes were written as TEXT; sqlite3 refuses a whole query over one
    value that is not UTF-8. Read such a value with U+FFFD in place of the bad bytes instead:
    one legacy row shows a replacement character rather than failing every team's read."""
    dbapi_connection.text_factory = _decode_lenient


def _decode_lenient(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")

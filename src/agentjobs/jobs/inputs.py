"""Declared inputs: the datasets a business kind reads, each with a column contract, and how a
spec maps them onto the user's own SQL. Plain data, no Airflow.

A kind's `queries()` still builds each input's default query (the sample database's SQL) and
its binds; the spec's `sources.sql.inputs` may replace the SQL (a query with the same named
binds, or a table/view exposing the contract's columns), never the binds. `mapped` does the
replacing; `check_columns` compares what a mapped query returns with the contract (before the
model is paid); `check_rows` refuses rows that break it (the team fails, the model never sees
them).
"""

# Annotations evaluated at once, not postponed: typing.NamedTuple would compile each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa

from agentjobs.jobs.zones import zone_problem
from agentjobs.lazy_pattern import lazy
from agentjobs.sources.errors import PermanentSourceError
from agentjobs.sources.teams import TEAMS_QUERY, USERS_QUERY, Query

ColumnType = Literal["text", "integer", "decimal", "timestamp", "date", "boolean"]
ColumnCheck = Literal["currency", "timezone", "email", "channel"]

# What a found type may stand in for: an integer amount is a fine decimal, not the other way round.
_ACCEPTS: dict[str, frozenset[str]] = {
    "text": frozenset({"text"}),
    "integer": frozenset({"integer"}),
    "decimal": frozenset({"decimal", "integer"}),
    "timestamp": frozenset({"timestamp"}),
    "date": frozenset({"date"}),
    "boolean": frozenset({"boolean"}),
}
_CURRENCY = lazy(r"[A-Z]{3}")
TARGET_CHANNELS = ("slack", "email")  # what a team_targets row may name
# One address, no spaces or list separators: what the delivery can send to.
_EMAIL = lazy(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class Column(NamedTuple):
    """One column an input's rows must have: its type, whether it may be NULL, what it means."""

    name: str
    type: ColumnType
    nullable: bool = False
    meaning: str = ""
    check: ColumnCheck | None = None  # a value rule beyond the type
    # Personal data (a name, an e-mail, a phone, an IBAN, a free-text note): the model gets a
    # pseudonym instead (jobs/pseudonyms.py). A spec may mark more columns (InputMapping.personal).
    personal: bool = False
    # Why code needs the real value where the model works (e.g. a lookup URL is built from it):
    # such a column cannot be marked personal, and the spec is told why.
    needed_as_is: str = ""


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class Input(NamedTuple):
    """A named dataset a kind reads: its column contract, the binds the kind gives its query,
    and the sample database's SQL (the default mapping).

    `table_where` / `order_by` make the query over a mapped table or view (`src` is its alias):
    `SELECT <contract columns> FROM <table> src WHERE <table_where> ORDER BY <order_by>`, so
    the view must also expose the columns those name (e.g. team_id).
    """

    name: str
    meaning: str
    columns: tuple[Column, ...]
    binds: tuple[str, ...]
    default_sql: str
    table_where: str = ""
    order_by: str = "id"
    filter_columns: tuple[str, ...] = ()  # what table_where reads besides the contract

    def table_query(self, table: str) -> str:
        columns = ", ".join(f"src.{c.name}" for c in self.columns)
        where = f" WHERE {self.table_where}" if self.table_where else ""
        return f"SELECT {columns} FROM {table} src{where} ORDER BY {self.order_by}"

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


class InputMappingError(ValueError):
    """A spec's mapping names an input the kind does not read, or a bind the input does not give."""


class ContractError(PermanentSourceError, ValueError):
    """A mapped query's columns do not match its input's contract; one line per mismatch."""


class RowContractError(PermanentSourceError, ValueError):
    """Rows of one team break an input's contract: the team fails, the model never sees them."""


def sql_binds(sql: str) -> set[str]:
    """The named binds (`:team_id`) of a query, as SQLAlchemy's text() finds them (not `::int`)."""
    return set(sa.text(sql).compile().params)


def check_mapping(inputs: Iterable[Input], mapping: Mapping[str, Any], where: str) -> None:
    """Refuse a mapping of an input not in `inputs` or a query with a bind the input lacks.

    `mapping` is name -> object with `sql` / `table` (the spec's InputMapping); `where` names the
    kind or source in the message.
    """
    declared = {i.name: i for i in inputs}
    for name, target in mapping.items():
        known = declared.get(name)
        if known is None:
            raise InputMappingError(
                f"input {name!r} is not one {where} reads; map one of: {', '.join(sorted(declared))}"
            )
        for column_name in getattr(target, "personal", None) or ():
            column = known.column(column_name)
            if column is None:
                raise InputMappingError(
                    f"input {name!r}: personal column {column_name!r} is not one of its columns "
                    f"({', '.join(c.name for c in known.columns)})"
                )
            if column.needed_as_is:
                raise InputMappingError(
                    f"input {name!r}: column {column_name!r} cannot be personal: {column.needed_as_is}"
                )
        sql = getattr(target, "sql", None)
        if sql is None:
            continue
        unknown = sorted(sql_binds(sql) - set(known.binds))
        if unknown:
            given = ", ".join(f":{b}" for b in known.binds) or "none"
            raise InputMappingError(
                f"input {name!r}: the query uses {', '.join(':' + b for b in unknown)}, which the input "
                f"does not give; its binds are {given}"
            )


def maps_query(target: Any | None) -> bool:
    """Whether a spec's mapping gives the input its own SQL (not only its personal columns)."""
    return bool(getattr(target, "sql", None) or getattr(target, "table", None))


def mapped_sql(input_: Input, target: Any | None) -> str:
    """The SQL that reads `input_` under the spec's mapping `target` (None, or a mapping that
    only marks personal columns: the default)."""
    if target is None:
        return input_.default_sql
    if getattr(target, "sql", None):
        return str(target.sql)
    if getattr(target, "table", None):
        return input_.table_query(str(target.table))
    return input_.default_sql


def mapped(
    inputs: Iterable[Input], queries: Mapping[str, Query], mapping: Mapping[str, Any] | None
) -> dict[str, Query]:
    """The kind's queries with each mapped input's SQL swapped in; binds the SQL does not use dropped."""
    declared = {i.name: i for i in inputs}
    out: dict[str, Query] = {}
    for name, query in queries.items():
        target = (mapping or {}).get(name)
        if name not in declared or not maps_query(target):
            out[name] = query
            continue
        sql = mapped_sql(declared[name], target)
        used = sql_binds(sql)
        out[name] = Query(sql, {k: v for k, v in query.params.items() if k in used})
    return out


def personal_columns(inputs: Iterable[Input], mapping: Mapping[str, Any] | None) -> dict[str, frozenset[str]]:
    """input name -> its personal columns: the contract's, and those the spec's mapping marks."""
    out: dict[str, frozenset[str]] = {}
    for input_ in inputs:
        marked = getattr((mapping or {}).get(input_.name), "personal", None) or ()
        columns = frozenset(c.name for c in input_.columns if c.personal) | frozenset(marked)
        if columns:
            out[input_.name] = columns
    return out


# --- the contract check: columns and types ------------------------------------------------------


def check_columns(input_: Input, found: Mapping[str, str | None], fix: str) -> list[str]:
    """One line per contract column missing from `found` (column -> found type, None: unknown)
    or of another type; extra columns are fine. `fix` ends each line (where to change it)."""
    problems = []
    for column in input_.columns:
        if column.name not in found:
            problems.append(
                f"input {input_.name!r}: column {column.name!r} ({column.type}) is missing; "
                f"the query returns {', '.join(found) or 'no columns'}; {fix}"
            )
            continue
        got = found[column.name]
        if got is not None and got not in _ACCEPTS[column.type]:
            problems.append(
                f"input {input_.name!r}: column {column.name!r} should be {column.type}, found {got}; "
                f"cast it in the query (e.g. CAST(... AS {_sql_type(column.type)})); {fix}"
            )
    return problems


def _sql_type(type_: str) -> str:
    return {"text": "TEXT", "integer": "BIGINT", "decimal": "NUMERIC", "timestamp": "TIMESTAMP"}.get(
        type_, type_.upper()
    )


# --- rows at run time -------------------------------------------------------------------------


def _value_problem(column: Column, value: Any) -> str | None:
    if value is None:
        return None if column.nullable else "NULL, but the column may not be NULL"
    if column.check == "currency" and not (isinstance(value, str) and _CURRENCY.fullmatch(value)):
        return f"{value!r}, not an ISO 4217 currency code (three capital letters, e.g. EUR)"
    if column.check == "timezone":
        problem = zone_problem(str(value))
        if problem == "not in the tz database":
            return f"{value!r}, not an IANA time zone (e.g. Europe/Berlin)"
        if problem:
            return f"{value!r}, {problem}: use an IANA time zone (e.g. Europe/Berlin)"
    if column.check == "channel" and value not in TARGET_CHANNELS:
        return f"{value!r}, not a delivery channel ({' or '.join(TARGET_CHANNELS)})"
    if column.check == "email" and not (isinstance(value, str) and _EMAIL.fullmatch(value)):
        return f"{value!r}, not an e-mail address"
    return None


def row_problems(input_: Input, rows: Iterable[Mapping[str, Any]], team: str = "") -> list[str]:
    """One line per value of `rows` that breaks the contract (NULL where not allowed, a bad code)."""
    problems = []
    for row in rows:
        for column in input_.columns:
            if column.name not in row:
                continue
            problem = _value_problem(column, row[column.name])
            if problem:
                who = f"team {team!r}, " if team else ""
                row_id = f", row id {row['id']!r}" if "id" in row else ""  # team_targets rows have none
                problems.append(f"{who}input {input_.name!r}{row_id}, column {column.name!r}: {problem}")
    return problems


def check_rows(inputs: Iterable[Input], tables: Mapping[str, list[dict[str, Any]]], team: str) -> None:
    """RowContractError naming every bad value of the team's rows (at most 20 lines)."""
    problems = [p for i in inputs if i.name in tables for p in row_problems(i, tables[i.name], team)]
    if problems:
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise RowContractError(
            "rows break the input contract, so the team's data does not reach the model: "
            + "; ".join(problems[:20])
            + more
            + "; fix the rows or filter them out in the spec's sources.sql.inputs query"
        )


# --- what a sampled value says about its column's type (SQLite has no result types) -------------


def sampled_type(value: Any, expected: ColumnType) -> str | None:
    """The contract type a value read from the database shows, judged for the `expected` one
    (SQLite stores timestamps as text and booleans as 0/1); None for NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "boolean" if expected == "boolean" and value in (0, 1) else "integer"
    if isinstance(value, float):
        return "decimal"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, date):
        return "date"
    if isinstance(value, str) and expected in ("timestamp", "date"):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return "text"
        is_date = len(value) == 10 and parsed.hour == parsed.minute == 0
        return "date" if is_date else "timestamp"
    if isinstance(value, str) and expected in ("integer", "decimal"):
        return "text"
    return "text" if isinstance(value, str) else type(value).__name__


# --- the sql source's own inputs: who the teams are ---------------------------------------------

TEAMS_INPUT = Input(
    "teams",
    "every team a fan-out job serves, and where its artifacts go",
    (
        Column("id", "text", meaning="the team's id (a folder name: letters, digits, - and _)"),
        Column("name", "text"),
        Column("timezone", "text", meaning="IANA time zone of the team's day", check="timezone"),
        Column("currency", "text", meaning="ISO 4217 code of its amounts", check="currency"),
        Column("slack_channel", "text", nullable=True, meaning="e.g. #team-berlin"),
        Column(
            "email_list",
            "text",
            nullable=True,
            meaning="the team's addresses, comma-separated",
            personal=True,
        ),
    ),
    (),
    TEAMS_QUERY.sql,
)
USERS_INPUT = Input(
    "users",
    "the members of every team",
    (
        Column("id", "text"),
        Column("team_id", "text"),
        Column("name", "text", personal=True),
        # Both may be missing in a real directory: a member without an e-mail is skipped with a
        # note in the run log, one without a time zone gets the team's (NULL-safe kinds).
        Column(
            "email",
            "text",
            nullable=True,
            meaning="where the member's messages go",
            check="email",
            personal=True,
        ),
        Column(
            "timezone",
            "text",
            nullable=True,
            meaning="IANA time zone of the member's 09:00 (NULL: the team's)",
            check="timezone",
        ),
    ),
    (),
    USERS_QUERY.sql,
    order_by="src.team_id, src.id",
)
# Optional: read only when the spec maps it (the sample database has no such table); each row
# is one more delivery of the team's artifact, beside the teams row's own channel and list.
TEAM_TARGETS_INPUT = Input(
    "team_targets",
    "further places each team's artifact goes, one delivery per row",
    (
        Column("team_id", "text"),
        Column("channel", "text", meaning="slack or email", check="channel"),
        Column("target", "text", meaning="a slack channel (#name or id), or addresses, comma-separated"),
    ),
    (),
    "",
    order_by="src.team_id, src.channel, src.target",
)
SOURCE_INPUTS = (TEAMS_INPUT, USERS_INPUT, TEAM_TARGETS_INPUT)


def kind_inputs(kind: Any) -> tuple[Input, ...]:
    """The inputs a kind declares (none: a kind from before inputs, read as it always was)."""
    return tuple(getattr(kind, "inputs", ()))


def team_queries(mapping: Mapping[str, Any] | None) -> dict[str, Query]:
    """The sql source's teams and users queries under the spec's mapping, and its team_targets
    query when the spec maps one."""
    defaults = {"teams": TEAMS_QUERY, "users": USERS_QUERY}
    if mapping and TEAM_TARGETS_INPUT.name in mapping:
        defaults[TEAM_TARGETS_INPUT.name] = Query(TEAM_TARGETS_INPUT.default_sql)
    return mapped(SOURCE_INPUTS, defaults, mapping)

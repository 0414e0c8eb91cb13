"""Declared write targets: what a business kind writes (reconciliation links, enrichment values),
and how a spec points each one at the user's own table and columns. Plain data, no Airflow.

A kind declares its targets like its inputs: a name, the columns it writes (type, meaning) and
the columns whose values the target holds once (`unique`: a receipt is linked once, and a
transaction pays one receipt). The spec's `sources.sql.writes.<target>` maps one onto the user's
database, never through the read mapping:

- `{table: my.link_table, columns: {receipt_id: doc_id, ...}}`: one INSERT per row, only when
  no row of the table holds any of the row's unique values yet (a NOT EXISTS guard, read in
  the same transaction; on PostgreSQL behind a transaction-scoped advisory lock on the table,
  so two writers cannot both find it free);
- `{update: {table: receipts, key: id, columns: {transaction_id: transaction_id}}}`: an UPDATE
  of the row whose `key` is the record's id, only while every mapped column is still NULL
  (and no other row holds a unique value), the sample database's style;
- nothing: the kind's own sample-database write (kept as it was, so shipped specs work).

Statements are SQLAlchemy Core over identifiers the spec validated (letters, digits, `_`, `$`;
SQLAlchemy quotes any that need it); every value is a bound parameter.
"""

# Annotations evaluated at once, not postponed: typing.NamedTuple would compile each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from agentjobs.jobs.inputs import ColumnType


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class WriteColumn(NamedTuple):
    """One column a target writes: its type, whether every mapping must give it, what it means."""

    name: str
    type: ColumnType
    meaning: str = ""
    required: bool = False


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class WriteTarget(NamedTuple):
    """A named place a kind writes to. `columns[0]` is the record's key (the receipt, the customer);
    each of `unique` holds a value at most once in the target's table."""

    name: str
    meaning: str
    columns: tuple[WriteColumn, ...]
    unique: tuple[str, ...]
    # The kind keeps agentjobs' ledger of judged records beside it (jobs/own_tables.py).
    ledger: bool = False
    # Rows only (no `update` form): a write is a group of rows (e.g. a team's insights of one
    # week) sharing the values of `group`, written together once (write_group_once).
    group: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.columns[0].name

    def column(self, name: str) -> WriteColumn | None:
        return next((c for c in self.columns if c.name == name), None)


class WriteMappingError(ValueError):
    """A spec's write mapping names a target or column the kind does not write, or misses one."""


def kind_writes(kind: Any) -> tuple[WriteTarget, ...]:
    """The write targets a kind declares (none: a kind that writes nothing of the user's)."""
    return tuple(getattr(kind, "writes", ()))


def _columns_of(mapping: Any) -> dict[str, str]:
    """target column -> the user's column, for either form of mapping."""
    if mapping.update is not None:
        return dict(mapping.update.columns)
    return dict(mapping.columns)


def check_write_mapping(targets: Iterable[WriteTarget], mapping: Mapping[str, Any], where: str) -> None:
    """Refuse a mapping of a target `where` (the kind) does not write, of a column the target does
    not have, or one that leaves out a required column (the update form maps the key as `key`)."""
    declared = {t.name: t for t in targets}
    for name, target_map in mapping.items():
        target = declared.get(name)
        if target is None:
            known = ", ".join(sorted(declared)) or "none"
            raise WriteMappingError(f"{where} writes no target {name!r}; its write targets: {known}")
        columns = _columns_of(target_map)
        unknown = sorted(c for c in columns if target.column(c) is None)
        if unknown:
            raise WriteMappingError(
                f"write target {name!r} has no column {', '.join(map(repr, unknown))}; its columns: "
                f"{', '.join(c.name for c in target.columns)}"
            )
        if target_map.update is not None and target.group:
            raise WriteMappingError(
                f"write target {name!r} writes rows: map it with `table` and `columns`, not `update`"
            )
        if target_map.update is not None and target.key in columns:
            raise WriteMappingError(
                f"write target {name!r}: {target.key!r} is the row's key; give it as update.key, "
                "not under update.columns"
            )
        given = {*columns, *([target.key] if target_map.update is not None else [])}
        missing = [c.name for c in target.columns if c.required and c.name not in given]
        if missing:
            raise WriteMappingError(
                f"write target {name!r} must map {', '.join(map(repr, missing))} to a column of "
                f"{target_map.update.table if target_map.update is not None else target_map.table}"
            )
        if not columns:
            raise WriteMappingError(f"write target {name!r} maps no column to write")


# --- where a target's rows go ------------------------------------------------------------------


def _split(qualified: str) -> tuple[str | None, str]:
    schema, _, table = qualified.rpartition(".")
    return schema or None, table


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class Destination(NamedTuple):
    """A target mapped onto one table of the user's: the table, its key column (update form) and
    target column -> the user's column."""

    target: WriteTarget
    table: str  # as the spec writes it, maybe schema-qualified
    columns: dict[str, str]
    key_column: str | None  # the update form's `key`; None: insert rows

    @classmethod
    def of(cls, target: WriteTarget, mapping: Any) -> "Destination":
        if mapping.update is not None:
            return cls(target, mapping.update.table, dict(mapping.update.columns), mapping.update.key)
        return cls(target, mapping.table, dict(mapping.columns), None)

    def user_columns(self) -> list[str]:
        """Every column of the user's table this destination names (the check looks for each)."""
        return [*([self.key_column] if self.key_column else []), *self.columns.values()]

    def table_clause(self) -> sa.TableClause:
        schema, name = _split(self.table)
        return sa.table(name, *(sa.column(c) for c in self.user_columns()), schema=schema)

    def column_for(self, target_column: str) -> str:
        """The user's column a target column is written to."""
        if self.key_column and target_column == self.target.key:
            return self.key_column
        return self.columns[target_column]


def _lock(conn: sa.Connection, table: str) -> None:
    """PostgreSQL: one writer of `table` at a time until the transaction ends, so a NOT EXISTS read
    and the write after it see the same rows. (SQLite serializes writers of the file.)"""
    if conn.dialect.name == "postgresql":
        key = sa.func.hashtext(sa.literal("agentjobs:" + table))
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _bound(conn: sa.Connection, values: Mapping[str, Any]) -> dict[str, Any]:
    """PostgreSQL: each value an untyped bind, so the server gives it the column's own type. A typed
    one would not fit every column: psycopg 3 sends a str as varchar, which a uuid column neither
    compares with nor takes (`operator does not exist: uuid = character varying`)."""
    if conn.dialect.name != "postgresql":
        return dict(values)
    return {k: sa.bindparam(None, v, type_=sa.types.NullType()) for k, v in values.items()}


def write_once(conn: sa.Connection, dest: Destination, values: Mapping[str, Any]) -> bool:
    """Write one row (target column -> value; the key column and the required ones given) in the
    caller's transaction; False, writing nothing, when a unique value is held already (or, for an
    update, the row is missing, of another record or written before)."""
    _lock(conn, dest.table)
    values = _bound(conn, values)
    table = dest.table_clause()
    col = {c: table.c[dest.column_for(c)] for c in values if c == dest.target.key or c in dest.columns}
    if dest.key_column is None:
        held = [col[u] == values[u] for u in dest.target.unique if u in col]
        if conn.execute(sa.select(sa.literal(1)).select_from(table).where(sa.or_(*held)).limit(1)).first():
            return False
        conn.execute(sa.insert(table).values({col[c].name: v for c, v in values.items() if c in col}))
        return True
    written = {c: v for c, v in values.items() if c in col and c != dest.target.key}
    guard = [col[c].is_(None) for c in written]
    other = table.alias("agentjobs_other")  # another row of the table, not the one updated
    taken = [
        other.c[dest.column_for(u)] == values[u]
        for u in dest.target.unique
        if u in col and u != dest.target.key
    ]
    if taken:
        guard.append(~sa.exists().where(sa.or_(*taken)).select_from(other))
    statement = (
        sa.update(table)
        .where(col[dest.target.key] == values[dest.target.key], *guard)
        .values({col[c].name: v for c, v in written.items()})
    )
    return conn.execute(statement).rowcount == 1


def write_group_once(conn: sa.Connection, dest: Destination, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Insert `rows` (target column -> value; every row holds the same values of the target's
    `group`) in the caller's transaction, only when no row of the table holds that group yet:
    False, writing nothing, when one does. Columns the mapping leaves out are not written, and
    a group column left out does not take part in the guard."""
    if not rows:
        return False
    _lock(conn, dest.table)
    table = dest.table_clause()
    mapped = [c for c in rows[0] if c == dest.target.key or c in dest.columns]
    col = {c: table.c[dest.column_for(c)] for c in mapped}
    group = _bound(conn, {g: rows[0][g] for g in dest.target.group if g in col})
    held = [col[g] == value for g, value in group.items()]
    if conn.execute(sa.select(sa.literal(1)).select_from(table).where(*held).limit(1)).first():
        return False
    # The INSERT's binds are the table clause's untyped columns (no value to type them by when
    # the statement is compiled once for every row), so they take the columns' types as well.
    conn.execute(sa.insert(table), [{col[c].name: row[c] for c in mapped} for row in rows])
    return True


# --- the check before the model: do the mapped tables and columns exist? -----------------------


def check_destinations(
    engine: sa.Engine, targets: Iterable[WriteTarget], mapping: Mapping[str, Any], fix: str = "the spec"
) -> list[str]:
    """One line per mapped table that does not exist or column it does not have, naming the write
    target and the column; `fix` says where the mapping is."""
    declared = {t.name: t for t in targets}
    problems = []
    inspector = sa.inspect(engine)
    for name, target_map in mapping.items():
        if name not in declared:
            continue
        dest = Destination.of(declared[name], target_map)
        schema, table = _split(dest.table)
        try:
            found = {c["name"] for c in inspector.get_columns(table, schema=schema)}
        except sa.exc.NoSuchTableError:
            problems.append(f"write target {name!r}: table {dest.table!r} does not exist; fix {fix}")
            continue
        for column in dest.user_columns():
            if column not in found:
                problems.append(
                    f"write target {name!r}: table {dest.table!r} has no column {column!r} (it has "
                    f"{', '.join(sorted(found))}); fix {fix}"
                )
    return problems


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class SpecWrites(NamedTuple):
    """A spec's write mapping and the schema of agentjobs' own tables, as a kind's apply takes them."""

    mapping: Mapping[str, Any]
    own_schema: str = "agentjobs"

    @classmethod
    def of(cls, sql_source: Any) -> "SpecWrites":
        """From the spec's `sources.sql` (None: nothing mapped)."""
        if sql_source is None:
            return cls({})
        return cls(dict(sql_source.writes), sql_source.own_schema)

    def needs_ledger(self, kind: Any) -> bool:
        """Whether a target of `kind` this spec maps keeps agentjobs' ledger (created before a read)."""
        return any(t.ledger and t.name in self.mapping for t in kind_writes(kind))

    def destination(self, target: WriteTarget) -> Destination | None:
        """Where the spec sends `target` (None: the kind's own sample-database write)."""
        mapping = self.mapping.get(target.name)
        return None if mapping is None else Destination.of(target, mapping)

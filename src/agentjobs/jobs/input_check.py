"""The contract check: run each mapped query with its binds on a small sample and compare the
columns and types it returns with its input's contract (jobs/inputs.py), before any team's
data is read and before any model call. The fetch task runs it once per run; `agentjobs check
JOB` runs it on demand.

Found types: PostgreSQL reports each result column's type OID, so even an empty result is
checked. SQLite's result columns have no type, so there the sampled values say it (a text
timestamp that parses is a timestamp); a column whose sample is empty or all NULL is unknown
and passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from agentjobs.jobs.inputs import (
    SOURCE_INPUTS,
    ContractError,
    Input,
    check_columns,
    kind_inputs,
    mapped,
    maps_query,
    sampled_type,
    sql_binds,
    team_queries,
)
from agentjobs.sources.errors import BusinessDbError, SourceError
from agentjobs.sources.read_only import (
    check_select,
    read_only_transaction,
    sqlglot_dialect,
    statement_deadline,
)
from agentjobs.sources.sql import statement, utc_session
from agentjobs.sources.sql_limits import DEFAULT_LIMITS, ReadLimits
from agentjobs.sources.teams import Member, Query, Team

SAMPLE_ROWS = 20

# PostgreSQL type OIDs (pg_type) and the contract type each stands for.
_PG_TYPES: dict[int, str] = {
    16: "boolean",
    20: "integer",
    21: "integer",
    23: "integer",
    700: "decimal",
    701: "decimal",
    790: "decimal",
    1700: "decimal",
    18: "text",
    19: "text",
    25: "text",
    1042: "text",
    1043: "text",
    2950: "text",  # uuid: an id, read as its text
    1082: "date",
    1114: "timestamp",
    1184: "timestamp",
}


@dataclass(frozen=True)
class InputVerdict:
    """One input's outcome: the problems (none: it matches) and the SQL it was read with."""

    name: str
    problems: list[str]
    mapped: bool  # the spec maps it (else the sample database's SQL)

    def line(self) -> str:
        source = "mapped" if self.mapped else "default"
        if not self.problems:
            return f"ok    {self.name} ({source})"
        return f"FAIL  {self.name} ({source}): " + "; ".join(self.problems)


def found_types(
    engine: sa.Engine, query: Query, input_: Input, limits: ReadLimits = DEFAULT_LIMITS
) -> dict[str, str | None]:
    """column -> the contract type the mapped query returns there (None: cannot tell); the
    sample runs as every read does: parsed in the database's dialect, read-only, under the
    spec's statement timeout."""
    check_select(query.sql, sqlglot_dialect(engine.dialect.name))
    used = sql_binds(query.sql)  # a mapped query may leave out binds the kind gives
    params = {k: v for k, v in query.params.items() if k in used}
    sample = Query(f"SELECT * FROM ({query.sql}) AS contract_sample LIMIT {SAMPLE_ROWS}", params)
    wrapped, params = statement(sample)
    with engine.connect() as conn, read_only_transaction(conn):
        utc_session(conn)
        with statement_deadline(conn, input_.name, query.sql, limits.statement_timeout_s):
            result = conn.execute(wrapped, params)
            description = result.cursor.description if result.cursor is not None else None
            names = list(result.keys())
            rows = result.fetchall()
    found: dict[str, str | None] = {}
    for index, name in enumerate(names):
        expected = input_.column(name)
        type_code = description[index][1] if description else None
        if isinstance(type_code, int):
            found[name] = _PG_TYPES.get(type_code, f"a PostgreSQL type of oid {type_code}")
            continue
        kinds = {sampled_type(row[index], expected.type if expected else "text") for row in rows} - {None}
        found[name] = kinds.pop() if len(kinds) == 1 else (" or ".join(sorted(kinds)) or None)
    return found


def spec_line(path: Path | None, keys: list[str]) -> int | None:
    """The 1-based line of the key at `keys` (e.g. sources, sql, inputs, teams) in a YAML file."""
    if path is None:
        return None
    try:
        node: Any = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    line = None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
        if match is None:
            return None
        line, node = match[0].start_mark.line + 1, match[1]
    return line


def _fix(input_: Input, mapping: Mapping[str, Any], spec_path: Path | None) -> str:
    if maps_query(mapping.get(input_.name)):
        where = f"{spec_path}" if spec_path else "the spec"
        line = spec_line(spec_path, ["sources", "sql", "inputs", input_.name])
        at = f"{where}:{line}" if line else where
        return f"fix sources.sql.inputs.{input_.name} in {at}"
    return f"map it under sources.sql.inputs.{input_.name} in {spec_path or 'the spec'}"


def check_inputs(
    engine: sa.Engine,
    pairs: list[tuple[Input, Query]],
    mapping: Mapping[str, Any],
    spec_path: Path | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[InputVerdict]:
    """Each input's verdict, in the order given; a query that fails to run (or is refused as a
    write, or runs past the statement timeout) is a problem too."""
    verdicts = []
    for input_, query in pairs:
        fix = _fix(input_, mapping, spec_path)
        try:
            problems = check_columns(input_, found_types(engine, query, input_, limits), fix)
        except BusinessDbError:
            raise  # the database, not this input: no mapping fixes a connection that cannot connect
        except (sa.exc.SQLAlchemyError, ValueError, SourceError) as exc:
            first = " ".join(str(exc).split("\n")[0].split())[:300]
            problems = [f"input {input_.name!r}: the query does not run ({first}); {fix}"]
        verdicts.append(InputVerdict(input_.name, problems, maps_query(mapping.get(input_.name))))
    return verdicts


def source_pairs(mapping: Mapping[str, Any]) -> list[tuple[Input, Query]]:
    queries = team_queries(mapping)
    return [(i, queries[i.name]) for i in SOURCE_INPUTS if i.name in queries]  # team_targets if mapped


def kind_pairs(
    kind: Any,
    settings: Any,
    team: Team,
    members: list[Member],
    when: datetime,
    mapping: Mapping[str, Any],
) -> list[tuple[Input, Query]]:
    """The kind's inputs with the queries (and binds) of `team`'s period at `when`."""
    inputs = kind_inputs(kind)
    queries = mapped(inputs, kind.queries(team, kind.period(team, when, settings), settings), mapping)
    return [(i, queries[i.name]) for i in inputs if i.name in queries]


def check_writes(
    engine: sa.Engine, kind: Any, writes: Mapping[str, Any], spec_path: Path | None = None
) -> list[InputVerdict]:
    """Each mapped write target's verdict (jobs/writes.py): its table exists and has every column
    the mapping names. Read from the catalog only; nothing is written."""
    from agentjobs.jobs.writes import check_destinations, kind_writes

    verdicts = []
    for name in writes:
        where = f"{spec_path}" if spec_path else "the spec"
        line = spec_line(spec_path, ["sources", "sql", "writes", name])
        fix = f"sources.sql.writes.{name} in {where}" + (f":{line}" if line else "")
        try:
            problems = check_destinations(engine, kind_writes(kind), {name: writes[name]}, fix)
        except sa.exc.SQLAlchemyError as exc:
            first = " ".join(str(exc).split("\n")[0].split())[:300]
            problems = [f"write target {name!r}: its table cannot be read ({first}); fix {fix}"]
        verdicts.append(InputVerdict(f"writes.{name}", problems, True))
    return verdicts


def raise_on_mismatch(verdicts: list[InputVerdict]) -> None:
    """ContractError listing every mismatch, when there is one."""
    problems = [p for v in verdicts for p in v.problems]
    if problems:
        raise ContractError(
            "the business database does not match the inputs' contracts (no team was read, no "
            "model called): " + "; ".join(problems)
        )

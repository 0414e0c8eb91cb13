"""The two limits of a `sql` source read, apart from `read_only.py` so a spec can name their
defaults without importing the SQL parser when a DAG file is parsed."""

# Annotations evaluated at once, not postponed: typing.NamedTuple would compile each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from typing import NamedTuple

# A team's period of the business tables is hundreds of rows; a query that returns this many
# has lost a WHERE, and its rows would not fit a prompt nor a snapshot anyone reads.
DEFAULT_ROW_CAP = 100_000
MAX_ROW_CAP = 10_000_000
# Long enough for a cold PostgreSQL cache on a large table, short enough that a runaway query
# (a missing join condition, a pg_sleep) frees the task slot well inside a run's timeout.
DEFAULT_STATEMENT_TIMEOUT_S = 60.0
MAX_STATEMENT_TIMEOUT_S = 3600.0


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class ReadLimits(NamedTuple):
    """How many rows one query may return, and how long one statement may run."""

    row_cap: int = DEFAULT_ROW_CAP
    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S


DEFAULT_LIMITS = ReadLimits()

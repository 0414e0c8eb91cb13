"""Whether a job's ledger is one every host its tasks may run on shares: decided before a run.

The delivery ledger keeps a job from delivering twice only if every try of its tasks reads the
same ledger. A SQLite ledger (the default `$AIRFLOW_HOME/agentjobs-ledger.db`, or a `sqlite`
connection) is a file on one host; under an executor that sends tasks to other hosts (Celery,
Kubernetes, Edge, ECS, any executor but LocalExecutor) a retry there finds it empty and sends
again. Such a job is refused twice over:

- when the DAG folder is parsed (operators/factory.py), with no I/O: the executor comes from
  Airflow's loaded configuration, and a connection's conn type is known only when it is an
  `AIRFLOW_CONN_*` variable. A connection kept in the metadata DB or a secrets backend cannot be
  looked up while parsing, so such a job is built, and
- before anything is delivered or claimed (`LedgerHook.get_engine(job=...)`), where the
  connection is looked up: a `sqlite` one fails the task then, on the worker's own configuration.

`AGENTJOBS_LEDGER_SINGLE_HOST=1` says every worker runs on one host (e.g. Celery on one machine)
and lifts the refusal.
"""

# Annotations evaluated at once, not postponed: typing.NamedTuple would compile each field's
# annotation text at every DAG parse (bench/dag_parse.py).

import json
import os
from typing import NamedTuple

# The ledger of every job whose spec names none: a deployment with workers on several hosts sets
# it (docker-compose.yaml does), so the shipped specs need no edit to deliver exactly once.
DEFAULT_CONN_ENV = "AGENTJOBS_LEDGER_CONN_ID"
SINGLE_HOST_ENV = "AGENTJOBS_LEDGER_SINGLE_HOST"
DEFAULT_SQLITE_FILE = "agentjobs-ledger.db"
# The one executor of Airflow 3 that runs every task on the scheduler's host, by its alias and
# its module path (as [core] executor may name it; see airflow.executors.executor_loader).
LOCAL_EXECUTORS = frozenset({"LocalExecutor", "airflow.executors.local_executor.LocalExecutor"})
FIX = (
    f"set {DEFAULT_CONN_ENV}=<a postgres connection every worker reaches> for the whole deployment "
    f"(or ledger_conn_id in the job's spec), or {SINGLE_HOST_ENV}=1 if every worker runs on this one host"
)


class SplitLedgerError(RuntimeError):
    """A job's ledger is a file on one host while its tasks may run on others."""


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class LedgerPlace(NamedTuple):
    """Where a job's ledger lives, as far as is known."""

    conn_id: str | None  # None: the default SQLite file in $AIRFLOW_HOME
    conn_type: str | None  # None: a connection whose type cannot be known without a lookup

    @property
    def on_one_host(self) -> bool:
        return self.conn_id is None or self.conn_type == "sqlite"

    def describe(self) -> str:
        if self.conn_id is None:
            unset = f"no ledger_conn_id, no ${DEFAULT_CONN_ENV}"
            return f"the SQLite file $AIRFLOW_HOME/{DEFAULT_SQLITE_FILE} ({unset})"
        if self.conn_type is None:
            return f"the database of connection {self.conn_id!r} (its type is checked when a task runs)"
        return f"the {self.conn_type} database of connection {self.conn_id!r}"


def executor_names(value: str) -> list[str]:
    """Each executor [core] executor names, as an alias or a module path.

    Airflow 3 takes a comma list (`LocalExecutor,CeleryExecutor`), `alias:module.path` entries
    and per-team lists after `;` (`LocalExecutor;team1=CeleryExecutor`).
    """
    names = []
    for team_part in value.split(";"):
        for entry in team_part.rpartition("=")[2].split(","):
            name = entry.strip().rpartition(":")[2].strip()
            if name:
                names.append(name)
    return names


def spreading(executors: list[str]) -> list[str]:
    """The executors that may run a task on another host than the last try's.

    Any but LocalExecutor: Airflow's own remote executors and anyone's custom one alike (a custom
    executor whose tasks stay on one host is what the single-host setting is for). A DAG may
    send its tasks to any executor configured, so one that spreads is enough.
    """
    return [name for name in executors if name not in LOCAL_EXECUTORS]


def split_ledger(job: str, place: LedgerPlace, executors: list[str], single_host: bool) -> str | None:
    """Why `job` must not run with this ledger under these executors (one line), or None."""
    spread = spreading(executors)
    if single_host or not spread or not place.on_one_host:
        return None
    return (
        f"job {job!r} keeps its delivery ledger in {place.describe()}, a file on one host, but the "
        f"executor {', '.join(spread)} runs tasks on several hosts, so a retry on another host would "
        f"find no ledger and deliver again; {FIX}"
    )


def configured_executors() -> list[str]:
    """[core] executor as Airflow's already loaded configuration has it (no I/O)."""
    try:
        from airflow.configuration import conf
    except ImportError:  # a worker with the task SDK only: its environment is all it has
        return executor_names(os.environ.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"))
    return executor_names(conf.get("core", "executor", fallback="LocalExecutor"))


def single_host() -> bool:
    return os.environ.get(SINGLE_HOST_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def default_conn_id(spec_conn_id: str | None) -> str | None:
    """The ledger connection a job uses: its spec's, else the deployment's default, else None."""
    return spec_conn_id or os.environ.get(DEFAULT_CONN_ENV) or None


def env_conn_type(conn_id: str) -> str | None:
    """The conn type of `conn_id` when it is an AIRFLOW_CONN_* variable (a URI or JSON), else None."""
    value = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", "").strip()
    if value.startswith("{"):
        try:
            conn_type = json.loads(value).get("conn_type")
        except (ValueError, AttributeError):
            return None
    else:
        conn_type = value.partition("://")[0] if "://" in value else None
    if not isinstance(conn_type, str) or not conn_type:
        return None
    # As Airflow's Connection normalises it: `postgresql://` is a postgres connection.
    conn_type = conn_type.lower().replace("-", "_")
    return "postgres" if conn_type == "postgresql" else conn_type


def place_at_parse(spec_conn_id: str | None) -> LedgerPlace:
    """The job's ledger as parsing can know it: from the spec and the environment only."""
    conn_id = default_conn_id(spec_conn_id)
    return LedgerPlace(conn_id, None if conn_id is None else env_conn_type(conn_id))


def refusal_at_parse(job: str, spec_conn_id: str | None) -> str | None:
    """Why the job's DAG must not be built here, or None (unknown conn types pass: see above)."""
    return split_ledger(job, place_at_parse(spec_conn_id), configured_executors(), single_host())


def refuse_split(job: str, place: LedgerPlace) -> None:
    """At run time, with the connection looked up: raise before `job` delivers through a split ledger."""
    problem = split_ledger(job, place, configured_executors(), single_host())
    if problem is not None:
        raise SplitLedgerError(problem)


def parse_inputs() -> str:
    """All the parse-time verdict depends on besides the specs: the executor setting, the two
    variables and the conn types of the AIRFLOW_CONN_* variables (types only: no secret)."""
    conns = sorted(
        (name, env_conn_type(name.removeprefix("AIRFLOW_CONN_")))
        for name in os.environ
        if name.startswith("AIRFLOW_CONN_")
    )
    given = [configured_executors(), os.environ.get(DEFAULT_CONN_ENV), single_host(), conns]
    return json.dumps(given, default=str)

"""The ledger database's connection: one hook, one engine per connection, for the delivery
ledger and the job run log alike.

The connection is a `sqlite` or `postgres` Airflow connection (`ledger_conn_id` in a job spec,
else the deployment's default `$AGENTJOBS_LEDGER_CONN_ID`); without either it is the SQLite file
`$AIRFLOW_HOME/agentjobs-ledger.db`, which only processes on one host can share (so a job about
to deliver through a SQLite ledger under an executor that spreads tasks over hosts is refused:
hooks/ledger_hosts.py). The engine comes from the
installed provider's hook (common-sql `DbApiHook.get_sqlalchemy_engine`, which knows IAM, SSL
and driver fallbacks) and is built from the connection's fields only when that provider is
missing, since the ledger needs nothing but SQLAlchemy.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from airflow.sdk.bases.hook import BaseHook
from airflow.sdk.exceptions import AirflowException, AirflowNotFoundException

from agentjobs.hooks.ledger_hosts import (
    DEFAULT_CONN_ENV,
    DEFAULT_SQLITE_FILE,
    LedgerPlace,
    default_conn_id,
    refuse_split,
)

if TYPE_CHECKING:
    from agentjobs.jobs.health import JobRunLog

CONN_TYPES = ("sqlite", "postgres")
# Several task processes on one host write one SQLite file: wait for its lock rather than fail.
SQLITE_CONNECT_ARGS = {"timeout": 30}

# One engine (and so one connection pool) per connection definition in this process. Keyed by a
# digest of the connection's URI, so an edited or rotated connection gets a fresh engine and no
# password sits in the key.
_engines: dict[tuple[str | None, str], sa.Engine] = {}


def _forget_engines_in_child() -> None:
    # A forked worker must not reuse its parent's pooled sockets (SQLAlchemy's pooling guidance).
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_forget_engines_in_child)


def default_sqlite_path() -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    return home / DEFAULT_SQLITE_FILE


class LedgerHook(BaseHook):
    """The SQLAlchemy engine of the ledger database (conn types `sqlite`, `postgres`).

    A named connection that does not exist is an error, not a fallback: a silent local file
    would break idempotency across worker hosts.
    """

    conn_name_attr = "ledger_conn_id"
    hook_name = "agentjobs ledger database"
    conn_types: ClassVar[tuple[str, ...]] = CONN_TYPES

    def __init__(self, ledger_conn_id: str | None = None) -> None:
        super().__init__()
        self.ledger_conn_id = default_conn_id(ledger_conn_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ledger_conn_id={self.ledger_conn_id!r})"

    def get_engine(self, *, job: str | None = None) -> sa.Engine:
        """The shared engine for this connection, built on first use.

        `job`: the job about to deliver or claim through it. Given, a SQLite ledger is refused
        (SplitLedgerError) under an executor that may run the job's next try on another host,
        before anything is sent. The run log and the alerts' ledger pass no job: a health
        alert about that very refusal must still go out.
        """
        if self.ledger_conn_id is None:
            if job is not None:
                refuse_split(job, LedgerPlace(None, "sqlite"))
            path = default_sqlite_path()
            return self._cached(str(path), lambda: _sqlite_engine(str(path)))
        conn = self._connection()
        if job is not None:
            refuse_split(job, LedgerPlace(self.ledger_conn_id, conn.conn_type))
        return self._cached(conn.get_uri(), lambda: self._engine_for(conn))

    def _cached(self, uri: str, build: Any) -> sa.Engine:
        key = (self.ledger_conn_id, hashlib.sha256(uri.encode()).hexdigest())
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = build()
            # The URL renders with the password hidden; the connection id names the rest.
            self.log.info("Ledger database for %r: %s", self.ledger_conn_id, engine.url)
        return engine

    def _connection(self) -> Any:
        conn_id = self.ledger_conn_id
        try:
            conn = self.get_connection(conn_id)
        except AirflowNotFoundException:
            raise ValueError(
                f"ledger connection {conn_id!r} does not exist; create it (conn type sqlite or "
                "postgres) or drop ledger_conn_id from the job (and unset "
                f"${DEFAULT_CONN_ENV}) to use the local SQLite ledger"
            ) from None
        if conn.conn_type not in CONN_TYPES:
            raise ValueError(
                f"Ledger connection {conn_id!r} has conn_type {conn.conn_type!r}; use 'sqlite' or 'postgres'"
            )
        return conn

    @staticmethod
    def _engine_for(conn: Any) -> sa.Engine:
        engine_kwargs = {"connect_args": SQLITE_CONNECT_ARGS} if conn.conn_type == "sqlite" else {}
        try:
            hook = conn.get_hook()
        except (AirflowException, ImportError):
            if conn.conn_type == "sqlite":
                return _sqlite_engine(conn.host)
            url = sa.URL.create(
                "postgresql+psycopg2",
                username=conn.login or None,
                password=conn.password or None,
                host=conn.host or None,
                port=conn.port or None,
                database=conn.schema or None,
                query=conn.extra_dejson.get("sqlalchemy_query", {}),  # as PostgresHook reads it
            )
            return sa.create_engine(url)
        return hook.get_sqlalchemy_engine(engine_kwargs=engine_kwargs)


def run_log(conn_id: str | None) -> JobRunLog:
    """The job run log in the ledger's database, on the engine the delivery ledger uses."""
    # Imported here: the job spec's models load with it, and the hook alone needs none of them.
    from agentjobs.jobs.health import JobRunLog

    return JobRunLog(LedgerHook(conn_id).get_engine())


def _sqlite_engine(path: str) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path}", connect_args=SQLITE_CONNECT_ARGS)

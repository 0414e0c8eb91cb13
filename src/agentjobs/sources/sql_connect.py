"""A business database that cannot be reached, named by its Airflow connection.

SQLAlchemy opens a connection when a query first needs one, and a failure there reached the
task log and the run's alert as the driver's bare `OperationalError` ("connection to server at
"10.0.0.5", port 5432 failed: Connection refused"), naming neither the Airflow connection nor
the fix. `name_connect_failures` hooks the engine's `handle_error` event: a failure to connect
(never one of a query on an open connection, which read_only.py words itself) is raised again as
BusinessDbUnreachable (transient: the retry policy retries it) or BusinessDbRefused (the server
said no to the login, password or database: a retry would be refused the same way), naming the
connection id, its host and port, and what to check. The password is masked in the driver's text
and the connection's URI is never quoted.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from agentjobs.sources.errors import BusinessDbError, BusinessDbRefused, BusinessDbUnreachable

# The driver's words for a server that answered and refused what the connection holds (libpq,
# MySQL drivers), or a SQLite file that is not there: nothing a retry changes.
_REFUSED = (
    "authentication failed",
    "no password supplied",
    "pg_hba.conf",
    "does not exist",  # role "x" / database "x" does not exist
    "access denied",
    "unable to open database file",
)
_WHY_MAX = 300


def name_connect_failures(engine: sa.Engine, conn_id: str, conn: Any) -> None:
    """Make a failure to connect to `engine` (Airflow connection `conn_id`) say which connection."""
    where = _where(conn)
    secret = conn.password or ""

    def named(context: sa.engine.ExceptionContext) -> BusinessDbError | None:
        if context.connection is not None or context.is_pre_ping:
            return None  # a query's error on an open connection, or a pool's probe: not ours to word
        return connect_failure(conn_id, where, secret, context.original_exception)

    sa.event.listen(engine, "handle_error", named)


def connect_failure(conn_id: str, where: str, secret: str, original: BaseException) -> BusinessDbError:
    """The error a failure to connect is raised as, its text free of the password."""
    # The driver's first line says what failed; libpq's second is a hint the fix below replaces.
    why = " ".join(str(original).strip().split("\n")[0].split())
    if secret:
        why = why.replace(secret, "***")
    if len(why) > _WHY_MAX:
        why = why[: _WHY_MAX - 1] + "…"
    if any(marker in why.lower() for marker in _REFUSED):
        return BusinessDbRefused(
            f"business database connection {conn_id!r}{where} refused the connection ({why}); check "
            f"the host, port and credentials (login, password, database) of connection {conn_id!r}: "
            "a retry would be refused the same way"
        )
    return BusinessDbUnreachable(
        f"business database connection {conn_id!r}{where} could not be reached ({why}); check the "
        f"host, port and credentials of connection {conn_id!r}, and that the database is up and "
        "accepts connections from this host"
    )


def _where(conn: Any) -> str:
    """' (host:port)', or '' for a connection without a host (SQLite); never a user or password."""
    host = conn.host or ""
    if not host:
        return ""
    return f" ({host}:{conn.port})" if conn.port else f" ({host})"

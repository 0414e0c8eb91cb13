"""A business database that cannot be reached (sources/sql_connect.py): the failure names the
Airflow connection, its host and port and what to check, never its password; a server that does
not answer is transient (retried), one that refuses the connection's login or database is not."""

from __future__ import annotations

import json
import socket

import pytest
import sqlalchemy as sa

from agentjobs.sources.errors import BusinessDbRefused, BusinessDbUnreachable
from agentjobs.sources.sql import fetch_tables, fetch_teams
from agentjobs.sources.sql_connect import connect_failure
from agentjobs.sources.teams import Query
from tests.business import fixtures

sample_db = fixtures.sample_db


def _set_conn(monkeypatch, conn_id: str, value: str | dict) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", value if isinstance(value, str) else json.dumps(value)
    )
    return conn_id


def _closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_database_that_refuses_connections_names_the_connection_and_what_to_check(monkeypatch):
    # It was the driver's bare OperationalError, naming neither the connection nor the fix.
    port = _closed_port()
    conn_id = _set_conn(monkeypatch, "shop_db_down", f"postgresql://shop:s3cret-pw@127.0.0.1:{port}/shop")
    with pytest.raises(BusinessDbUnreachable) as err:
        fetch_teams(conn_id)
    message = str(err.value)
    assert message.startswith(
        f"business database connection 'shop_db_down' (127.0.0.1:{port}) could not be reached ("
    )
    assert "Connection refused" in message
    assert "check the host, port and credentials of connection 'shop_db_down'" in message
    assert "s3cret-pw" not in message and "postgresql://" not in message
    assert isinstance(err.value, ConnectionError)  # transient: the retry policy retries it


def test_a_sqlite_file_that_cannot_be_opened_is_refused_naming_the_connection(monkeypatch, tmp_path):
    missing = tmp_path / "no-such-folder" / "business.db"
    conn_id = _set_conn(monkeypatch, "shop_db_gone", {"conn_type": "sqlite", "host": str(missing)})
    with pytest.raises(BusinessDbRefused) as err:
        fetch_teams(conn_id)
    message = str(err.value)
    assert f"business database connection 'shop_db_gone' ({missing}) refused the connection" in message
    assert "unable to open database file" in message and "a retry would be refused the same way" in message


def test_a_postgres_database_that_does_not_exist_is_refused_without_its_password(monkeypatch):
    from tests.postgres import reachable_engine

    reachable_engine().dispose()  # skips without the machine's server
    conn_id = _set_conn(
        monkeypatch, "shop_db_nodb", "postgresql://postgres:s3cret-pw@127.0.0.1:5432/no_such_shop_db"
    )
    with pytest.raises(BusinessDbRefused) as err:
        fetch_teams(conn_id)
    message = str(err.value)
    assert "connection 'shop_db_nodb' (127.0.0.1:5432) refused the connection" in message
    assert '"no_such_shop_db" does not exist' in message and "s3cret-pw" not in message


def test_a_failing_query_on_an_open_connection_keeps_its_own_error(sample_db, monkeypatch):
    conn_id = _set_conn(monkeypatch, "shop_db_up", f"sqlite:///{sample_db[0]}")
    with pytest.raises(sa.exc.OperationalError, match="no such table: nowhere"):
        fetch_tables(conn_id, {"x": Query("SELECT id FROM nowhere")})


@pytest.mark.parametrize(
    ("driver_says", "raised"),
    [
        ('connection to server at "db", port 5432 failed: Connection refused', BusinessDbUnreachable),
        ('connection to server at "db", port 5432 failed: timeout expired', BusinessDbUnreachable),
        ('could not translate host name "db.internal" to address', BusinessDbUnreachable),
        ('FATAL:  password authentication failed for user "shop"', BusinessDbRefused),
        ('FATAL:  role "shop" does not exist', BusinessDbRefused),
        ("(1045, \"Access denied for user 'shop'@'10.0.0.2'\")", BusinessDbRefused),
    ],
)
def test_what_the_driver_says_decides_whether_a_retry_can_help(driver_says, raised):
    error = connect_failure("shop_db", " (db:5432)", "s3cret-pw", Exception(f"{driver_says} s3cret-pw\nhint"))
    assert type(error) is raised
    assert "shop_db" in str(error) and "s3cret-pw" not in str(error) and "hint" not in str(error)

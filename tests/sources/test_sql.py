"""The sql source: typed UTC binds and JSON values that read the same rows from SQLite and
PostgreSQL, and the engine of an Airflow connection (defined by environment variable)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from agentjobs.business.load import load_into
from agentjobs.jobs.period import period_of_day
from agentjobs.sources import sql
from agentjobs.sources.sql import (
    BusinessDbError,
    connection_engine,
    fetch_tables,
    fetch_teams,
    json_value,
    read_tables,
    read_teams,
)
from agentjobs.sources.teams import Query
from tests.business import fixtures

# The business fixtures (one generated database per session, a fresh PostgreSQL schema per test).
sample_db, sqlite_engine, pg_schema = fixtures.sample_db, fixtures.sqlite_engine, fixtures.pg_schema

TOKYO = ZoneInfo("Asia/Tokyo")


def _set_conn(monkeypatch, conn_id: str, value: str | dict) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", value if isinstance(value, str) else json.dumps(value)
    )
    return conn_id


def _portable_queries() -> dict[str, Query]:
    """What the kinds ask: a team's local week and day (aware binds in its zone), dates, lists."""
    week = period_of_day(date(2026, 11, 28), "Europe/Berlin", 7)
    day = period_of_day(date(2026, 11, 28), "America/Los_Angeles")
    window = {"team_id": "team-berlin", "start": week.start, "end": week.end}
    return {
        "week": Query(
            "SELECT * FROM transactions WHERE team_id = :team_id AND occurred_at >= :start "
            "AND occurred_at < :end ORDER BY id",
            window,
        ),
        "totals": Query(
            "SELECT category, SUM(amount_cents) AS total_cents, COUNT(*) AS n FROM transactions "
            "WHERE team_id = :team_id AND occurred_at >= :start AND occurred_at < :end "
            "GROUP BY category ORDER BY category",
            window,
        ),
        "orders": Query(
            "SELECT COUNT(*) AS n, MIN(placed_at) AS first_at FROM orders "
            "WHERE team_id = :team_id AND placed_at >= :start AND placed_at < :end",
            {"team_id": "team-la", "start": day.start, "end": day.end},
        ),
        "invoices": Query(
            "SELECT * FROM invoices WHERE due_on >= :since ORDER BY id", {"since": date(2026, 11, 1)}
        ),
        "receipts": Query(
            "SELECT * FROM receipts WHERE team_id IN :teams ORDER BY id",
            {"teams": ["team-tokyo", "team-sydney"]},
        ),
        "events": Query(
            "SELECT * FROM events WHERE occurred_at >= :since ORDER BY id", {"since": week.start}
        ),
        "teams": Query("SELECT * FROM teams ORDER BY id"),
    }


# --- values ----------------------------------------------------------------------------------


def test_values_are_json_safe():
    berlin = ZoneInfo("Europe/Berlin")
    assert json_value(datetime(2026, 11, 28, 9, 30, tzinfo=berlin)) == "2026-11-28T08:30:00Z"
    assert json_value(datetime(2026, 11, 28, 9, 30, 0, 5)) == "2026-11-28T09:30:00.000005Z"  # naive is UTC
    assert json_value(date(2026, 11, 28)) == "2026-11-28"
    assert json_value(Decimal("4200")) == 4200 and isinstance(json_value(Decimal("4200.00")), int)
    assert json_value(Decimal("12.50")) == "12.50"
    assert json_value(True) is True and json_value(None) is None and json_value(7) == 7
    # SQLite's text and integers, by the schema's column names (no type info in a raw result).
    assert json_value("2026-11-28 06:04:28.000000", "occurred_at", sqlite=True) == "2026-11-28T06:04:28Z"
    assert json_value("2026-11-28 06:04:28.000000", "first_at", sqlite=True) == "2026-11-28T06:04:28Z"
    assert (
        json_value("2026-11-28 06:04:28.000000", "description", sqlite=True) == "2026-11-28 06:04:28.000000"
    )
    assert json_value("not a time", "paid_at", sqlite=True) == "not a time"
    assert json_value(1, "recurring", sqlite=True) is True and json_value(1, "n", sqlite=True) == 1
    with pytest.raises(TypeError, match="'blob'"):
        json_value(b"\x00", "blob")


def test_rows_come_back_as_json(sqlite_engine):
    tables = read_tables(sqlite_engine, _portable_queries())
    json.dumps(tables)  # no datetime, Decimal or bytes left
    invoice = tables["invoices"][0]
    assert isinstance(invoice["recurring"], bool) and invoice["due_on"] >= "2026-11-01"
    assert all(r["paid_at"] is None or r["paid_at"].endswith("Z") for r in tables["invoices"])
    assert tables["orders"][0]["first_at"].endswith("Z")
    assert {r["team_id"] for r in tables["receipts"]} == {"team-tokyo", "team-sydney"}
    assert list(tables) == list(_portable_queries())


# --- binds -----------------------------------------------------------------------------------


def test_an_aware_bind_selects_the_teams_local_day_however_it_is_given(sqlite_engine):
    day = date(2026, 11, 28)
    everything = read_tables(
        sqlite_engine, {"q": Query("SELECT id, occurred_at FROM transactions WHERE team_id = 'team-tokyo'")}
    )["q"]
    expected = sorted(
        r["id"]
        for r in everything
        if datetime.fromisoformat(r["occurred_at"]).astimezone(TOKYO).date() == day  # "Z" parses as UTC
    )
    sql_text = (
        "SELECT id FROM transactions WHERE team_id = 'team-tokyo' "
        "AND occurred_at >= :start AND occurred_at < :end ORDER BY id"
    )
    local_midnight = datetime(2026, 11, 28, tzinfo=TOKYO)
    given = {
        "Tokyo time": (local_midnight, local_midnight + timedelta(days=1)),
        "aware UTC": (local_midnight.astimezone(UTC), (local_midnight + timedelta(days=1)).astimezone(UTC)),
        "naive UTC": (datetime(2026, 11, 27, 15), datetime(2026, 11, 28, 15)),
    }
    for how, (start, end) in given.items():
        rows = read_tables(sqlite_engine, {"q": Query(sql_text, {"start": start, "end": end})})["q"]
        assert [r["id"] for r in rows] == expected, how
    assert len(expected) > 20


def test_read_teams_splits_the_email_list_and_orders_members(sqlite_engine):
    teams = read_teams(sqlite_engine)
    assert [t.id for t, _ in teams] == sorted(t.id for t, _ in teams) and len(teams) == 5
    by_id = {t.id: (t, m) for t, m in teams}
    tokyo, members = by_id["team-tokyo"]
    assert tokyo.email_list == ["tokyo-finance@example.org", "tokyo-ops@example.org"]
    assert tokyo.currency == "JPY" and tokyo.slack_channel is None
    assert (
        by_id["team-berlin"][0].email_list == [] and by_id["team-berlin"][0].slack_channel == "#team-berlin"
    )
    assert [m.id for m in members] == sorted(m.id for m in members) and len(members) == 5
    assert any(m.timezone != tokyo.timezone for m in members)


# --- PostgreSQL ------------------------------------------------------------------------------


def test_postgres_gets_the_same_rows_and_the_same_answers(sample_db, sqlite_engine, pg_schema, monkeypatch):
    path, _ = sample_db
    engine, schema = pg_schema
    counts = load_into(path, engine, schema)
    with sqlite_engine.connect() as conn:
        assert counts == {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in counts}
    assert counts["transactions"] > 15_000
    queries = _portable_queries()
    on_sqlite, on_postgres = read_tables(sqlite_engine, queries), read_tables(engine, queries)
    for name in queries:
        assert on_postgres[name] == on_sqlite[name], name
    assert len(on_sqlite["week"]) > 100 and len(on_sqlite["events"]) > 100
    assert read_teams(engine) == read_teams(sqlite_engine)
    # The same through an Airflow postgres connection (its hook builds the engine).
    conn_id = _set_conn(
        monkeypatch,
        "agentjobs_business_pg",
        {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"},
    )
    query = Query(
        f'SELECT * FROM "{schema}".invoices WHERE due_on >= :since ORDER BY id', queries["invoices"].params
    )
    assert fetch_tables(conn_id, {"invoices": query}) == {"invoices": on_sqlite["invoices"]}
    assert connection_engine(conn_id).dialect.name == "postgresql"


# --- through an Airflow connection -----------------------------------------------------------


def test_fetch_tables_reads_through_the_airflow_connections_sql_hook(sample_db, sqlite_engine, monkeypatch):
    path, _ = sample_db
    conn_id = _set_conn(monkeypatch, "agentjobs_business_t1", f"sqlite:///{path}")
    queries = _portable_queries()
    assert fetch_tables(conn_id, queries) == read_tables(sqlite_engine, queries)
    assert fetch_teams(conn_id) == read_teams(sqlite_engine)
    engine = connection_engine(conn_id)
    assert connection_engine(conn_id) is engine  # one engine (one pool) per connection
    assert engine.dialect.name == "sqlite"
    # An edited connection gets a fresh engine on the new database.
    other = path.with_name("other.db")
    other.write_bytes(path.read_bytes())
    _set_conn(monkeypatch, conn_id, f"sqlite:///{other}")
    assert connection_engine(conn_id) is not engine
    assert connection_engine(conn_id).url.database.endswith("other.db")


def test_text_that_is_not_utf8_in_a_sqlite_row_is_read_with_replacement_characters(
    sample_db, tmp_path, monkeypatch
):
    """SQLite stores whatever bytes a legacy import wrote; one team's undecodable name must not
    fail the read of every team (sqlite3 raised OperationalError: Could not decode to UTF-8)."""
    import sqlite3

    path, _ = sample_db
    copy = tmp_path / "latin1.db"
    copy.write_bytes(path.read_bytes())
    with sqlite3.connect(copy) as db:  # 'Berlin' with a Latin-1 byte: invalid UTF-8
        db.execute("UPDATE teams SET name = CAST(x'4265726cef6e' AS TEXT) WHERE id = 'team-berlin'")
    conn_id = _set_conn(monkeypatch, "agentjobs_business_latin1", f"sqlite:///{copy}")
    teams = {team.id: team.name for team, _ in fetch_teams(conn_id)}
    assert teams["team-berlin"] == "Berl\ufffdn" and teams["team-tokyo"] == "Tokyo"


def test_a_missing_connection_names_itself_and_the_fix():
    with pytest.raises(BusinessDbError) as err:
        fetch_tables("agentjobs_business_nowhere", {})
    message = str(err.value)
    assert "'agentjobs_business_nowhere' does not exist" in message
    assert "AIRFLOW_CONN_AGENTJOBS_BUSINESS_NOWHERE='sqlite:////" in message
    assert "agentjobs business-db" in message


@pytest.mark.parametrize(
    ("conn", "says"),
    [
        ({"conn_type": "agentjobs_llm", "host": "http://127.0.0.1:9"}, "hook LLMHook is not a SQL"),
        ({"conn_type": "nosuchdb", "host": "x"}, "no installed SQL provider serves"),
    ],
)
def test_a_connection_that_is_not_sql_is_refused(monkeypatch, conn, says):
    conn_id = _set_conn(monkeypatch, "agentjobs_business_odd", conn)
    with pytest.raises(BusinessDbError, match=says) as err:
        fetch_teams(conn_id)
    assert "'agentjobs_business_odd'" in str(err.value) and "AIRFLOW_CONN_AGENTJOBS_BUSINESS_ODD" in str(
        err.value
    )
    assert not any(key[0] == conn_id for key in sql._engines)


def test_reading_through_an_engine_imports_nothing_from_airflow():
    # The kinds' tests and the CLI read the database without Airflow; only fetch_* needs it.
    code = (
        "import sys\n"
        "import agentjobs.sources.sql, agentjobs.business.generate, agentjobs.business.load\n"
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"

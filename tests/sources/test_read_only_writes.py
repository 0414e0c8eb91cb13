"""Every way a mapped query could write, tried through the reader on SQLite and on PostgreSQL (a
schema of the test's own): each is refused before it runs, naming what it found, and the database
is unchanged afterwards. The queries users write (CTEs, windows, casts, zones, quoted and
schema-qualified names) still read, with the rows they ask for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.sources import read_only
from agentjobs.sources.read_only import WritingQueryError, read_only_transaction
from agentjobs.sources.sql import read_tables
from agentjobs.sources.teams import Query
from tests.business import fixtures

pg_schema = fixtures.pg_schema

# (query, what the refusal names); each is refused on both backends.
WRITES = [
    # DDL
    ("DROP TABLE notes", "got DROP"),
    ("CREATE TABLE copied AS SELECT * FROM notes", "got CREATE"),
    ("ALTER TABLE notes ADD COLUMN z INT", "got ALTER"),
    ("TRUNCATE TABLE notes", "got TRUNCATE"),
    # DML
    ("INSERT INTO notes (id, name) VALUES (3, 'c')", "got INSERT"),
    ("UPDATE notes SET name = 'x'", "got UPDATE"),
    ("DELETE FROM notes", "got DELETE"),
    ("MERGE INTO notes USING notes n2 ON notes.id = n2.id WHEN MATCHED THEN DELETE", "got MERGE"),
    # more than one statement, the `;` of a string or a comment not counting as one
    ("SELECT 1; DROP TABLE notes", "exactly one statement, got 2"),
    ("SELECT ';' AS semi /* ; */; DELETE FROM notes -- ;", "exactly one statement, got 2"),
    ("DELETE FROM notes; COMMIT; SELECT 1", "exactly one statement, got 3"),
    # a write inside the tree
    ("WITH d AS (DELETE FROM notes RETURNING *) SELECT * FROM d", "but DELETE appears"),
    ("WITH u AS (UPDATE notes SET name = 'x' RETURNING id) SELECT * FROM u", "but UPDATE appears"),
    (
        "WITH i AS (INSERT INTO notes (id, name) VALUES (3, 'c') RETURNING id) SELECT * FROM i",
        "but INSERT appears",
    ),
    (
        "SELECT * FROM notes WHERE id IN (WITH d AS (DELETE FROM notes RETURNING id) SELECT id FROM d)",
        "but DELETE appears",
    ),
    ("SELECT * INTO copied FROM notes", "but INTO appears"),
    # locking clauses
    ("SELECT * FROM notes FOR UPDATE", "but FOR UPDATE appears"),
    ("SELECT * FROM notes FOR NO KEY UPDATE", "but FOR NO KEY UPDATE appears"),
    ("SELECT * FROM notes FOR SHARE", "but FOR SHARE appears"),
    # COPY, and statements that change the session or the transaction
    ("COPY notes TO STDOUT", "got COPY"),
    ("COPY (SELECT * FROM notes) TO '/tmp/notes.csv'", "got COPY"),
    ("COPY notes FROM '/etc/hostname'", "got COPY"),
    ("PRAGMA query_only = OFF", "got PRAGMA"),
    ("SET TRANSACTION READ WRITE", "got SET"),
    ("COMMIT", "got COMMIT"),
    ("EXPLAIN ANALYZE DELETE FROM notes", "got EXPLAIN"),
    ("CALL cleanup()", "got CALL"),
    # functions with effects a read-only transaction does not stop, however they are spelled
    ("SELECT pg_terminate_backend(1)", "but pg_terminate_backend() appears"),
    (
        "SELECT name FROM notes WHERE PG_CATALOG.PG_CANCEL_BACKEND(1) IS NULL",
        "but pg_cancel_backend() appears",
    ),
    ("SELECT set_config('statement_timeout', '0', false)", "but set_config() appears"),
    ("SELECT pg_advisory_lock(42)", "but pg_advisory_lock() appears"),
    ("SELECT pg_try_advisory_xact_lock_shared(42)", "but pg_try_advisory_xact_lock_shared() appears"),
    ("SELECT pg_notify('channel', 'hello')", "but pg_notify() appears"),
    ("SELECT * FROM dblink('dbname=test', 'DELETE FROM notes') AS t(x text)", "but dblink() appears"),
    ("SELECT lo_import('/etc/hostname')", "but lo_import() appears"),
    ("SELECT pg_read_file('/etc/hostname')", "but pg_read_file() appears"),
    ("SELECT * FROM pg_ls_dir('.') AS f", "but pg_ls_dir() appears"),
    ("SELECT pg_reload_conf()", "but pg_reload_conf() appears"),
    ("SELECT pg_switch_wal()", "but pg_switch_wal() appears"),
    ("SELECT txid_current()", "but txid_current() appears"),
    ("SELECT query_to_xml('SELECT pg_terminate_backend(1)', true, false, '')", "but query_to_xml() appears"),
    ("SELECT load_extension('/tmp/evil.so')", "but load_extension() appears"),
    ("SELECT writefile('/tmp/x', name) FROM notes", "but writefile() appears"),
]


def make_notes(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, name TEXT, at TIMESTAMP)")
        conn.exec_driver_sql(
            "INSERT INTO notes (id, name, at) VALUES "
            "(1, 'a', '2026-11-27 23:30:00'), (2, 'b', '2026-11-28 06:04:28'), (3, NULL, NULL)"
        )
        conn.exec_driver_sql('CREATE TABLE "Team Notes" ("Amount" INTEGER, "Team" TEXT)')
        conn.exec_driver_sql("""INSERT INTO "Team Notes" ("Amount", "Team") VALUES (5, 'x'), (7, 'y')""")


def state(engine: sa.Engine) -> tuple[list[str], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The tables of the database (the test's schema on PostgreSQL) and every row of both."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            tables = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        else:
            tables = (
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY 1"
            )
        names = [row[0] for row in conn.exec_driver_sql(tables)]
        notes = [tuple(r) for r in conn.exec_driver_sql("SELECT id, name, at FROM notes ORDER BY id")]
        team = [
            tuple(r) for r in conn.exec_driver_sql('SELECT "Amount", "Team" FROM "Team Notes" ORDER BY 1')
        ]
    return names, notes, team


@pytest.fixture
def sqlite_db(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'notes.db'}")
    make_notes(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_db(pg_schema) -> sa.Engine:
    engine, _ = pg_schema
    make_notes(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgres"])
def db(request) -> sa.Engine:
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


def test_every_write_is_refused_naming_what_and_the_database_is_unchanged(db):
    before = state(db)
    assert set(before[0]) == {"notes", "Team Notes"} and len(before[1]) == 3 and len(before[2]) == 2
    for sql, says in WRITES:
        # The refused query comes after a good one: nothing of the batch runs.
        with pytest.raises(WritingQueryError, match="sql source query") as refused:
            read_tables(db, {"fine": Query("SELECT id FROM notes"), "attempt": Query(sql)})
        assert says in str(refused.value), (sql, str(refused.value))
        assert "\n" not in str(refused.value)
        assert state(db) == before, sql


def test_a_terminate_of_another_session_is_refused_and_that_session_lives_on(pg_db):
    with pg_db.connect() as victim:
        pid = victim.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        for sql in (
            "SELECT pg_terminate_backend(:pid) AS gone",
            "SELECT pg_catalog.pg_terminate_backend(:pid) AS gone",
            'SELECT "pg_terminate_backend"(:pid) AS gone',
            "SELECT id FROM notes WHERE pg_cancel_backend(:pid)",
        ):
            with pytest.raises(WritingQueryError, match=r"pg_(terminate|cancel)_backend\(\) appears"):
                read_tables(pg_db, {"kill": Query(sql, {"pid": pid})})
        assert victim.exec_driver_sql("SELECT 1").scalar_one() == 1


def test_a_setting_changed_past_the_parser_does_not_reach_the_pooled_connection(pg_schema):
    engine, _ = pg_schema
    one = sa.create_engine(
        engine.url, pool_size=1, max_overflow=0
    )  # the reader's connection is the next one's
    try:
        with pytest.raises(WritingQueryError, match=r"set_config\(\) appears"):
            read_tables(one, {"s": Query("SELECT set_config('work_mem', '1MB', false) AS s")})
        with one.connect() as conn:
            default = conn.exec_driver_sql("SHOW work_mem").scalar_one()
        assert default != "1MB"
        # Past the parser a session-wide set_config runs, but the read-only transaction rolls it back.
        with one.connect() as conn, read_only_transaction(conn):
            assert conn.exec_driver_sql("SELECT set_config('work_mem', '1MB', false)").scalar_one() == "1MB"
        # ...and the reader's own statement timeout (SET LOCAL) ends with its transaction too.
        with one.connect() as conn:
            assert conn.exec_driver_sql("SHOW work_mem").scalar_one() == default
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "0"
        read_tables(one, {"n": Query("SELECT 1 AS n")})
        with one.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "0"
    finally:
        one.dispose()


def test_an_advisory_lock_is_refused_and_none_is_left_held(pg_db):
    with pytest.raises(WritingQueryError, match=r"pg_advisory_lock\(\) appears"):
        read_tables(pg_db, {"lock": Query("SELECT pg_advisory_lock(424242) AS locked")})
    with pg_db.connect() as conn:
        held = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242"
        assert conn.exec_driver_sql(held).scalar_one() == 0


def test_what_users_write_still_reads_on_postgres(pg_schema):
    engine, schema = pg_schema
    make_notes(engine)
    queries = {
        "cte_window": Query(
            "WITH named AS (SELECT id, name FROM notes WHERE name IS NOT NULL)\n"
            "SELECT name, row_number() OVER (ORDER BY id DESC) AS rank FROM named ORDER BY id"
        ),
        "casts": Query(
            "SELECT id::text AS id_text, COALESCE(name, '(none)') AS name FROM notes WHERE id IN :ids "
            "ORDER BY id",
            {"ids": [2, 3]},
        ),
        "zones": Query(
            "SELECT date_trunc('day', at AT TIME ZONE 'UTC' AT TIME ZONE 'Asia/Tokyo') AS local_day, "
            "CAST(at AS date) AS utc_day FROM notes WHERE id = 1"
        ),
        "union_sub": Query(
            "SELECT name FROM notes WHERE id IN (SELECT id FROM notes WHERE id < 3) "
            "UNION ALL SELECT 'c' ORDER BY name"
        ),
        "quoted": Query(f'SELECT SUM(t."Amount") AS total FROM "{schema}"."Team Notes" AS t'),
        "text_not_sql": Query(
            "SELECT 'DROP TABLE notes; --' AS a, $$DELETE FROM notes;$$ AS b /* ; DELETE */ -- ; COMMIT"
        ),
    }
    assert read_tables(engine, queries) == {
        "cte_window": [{"name": "a", "rank": 2}, {"name": "b", "rank": 1}],
        "casts": [{"id_text": "2", "name": "b"}, {"id_text": "3", "name": "(none)"}],
        "zones": [{"local_day": "2026-11-28T00:00:00Z", "utc_day": "2026-11-27"}],
        "union_sub": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
        "quoted": [{"total": 12}],
        "text_not_sql": [{"a": "DROP TABLE notes; --", "b": "DELETE FROM notes;"}],
    }


def test_what_users_write_still_reads_on_sqlite(sqlite_db):
    queries = {
        "cte_window": Query(
            "WITH named AS (SELECT id, name FROM notes WHERE name IS NOT NULL)\n"
            "SELECT name, row_number() OVER (ORDER BY id DESC) AS rank FROM named ORDER BY id"
        ),
        "casts": Query(
            "SELECT CAST(id AS TEXT) AS id_text, COALESCE(name, '(none)') AS name FROM notes "
            "WHERE id IN :ids ORDER BY id",
            {"ids": [2, 3]},
        ),
        "days": Query("SELECT strftime('%Y-%m-%d', at, '+9 hours') AS local_day FROM notes WHERE id = 1"),
        "union_sub": Query(
            "SELECT name FROM notes WHERE id IN (SELECT id FROM notes WHERE id < 3) "
            "UNION ALL SELECT 'c' ORDER BY name"
        ),
        "quoted": Query('SELECT SUM(t."Amount") AS total FROM main."Team Notes" AS t'),
        "text_not_sql": Query("SELECT 'DROP TABLE notes; --' AS a /* ; DELETE */ -- ; COMMIT"),
    }
    assert read_tables(sqlite_db, queries) == {
        "cte_window": [{"name": "a", "rank": 2}, {"name": "b", "rank": 1}],
        "casts": [{"id_text": "2", "name": "b"}, {"id_text": "3", "name": "(none)"}],
        "days": [{"local_day": "2026-11-28"}],
        "union_sub": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
        "quoted": [{"total": 12}],
        "text_not_sql": [{"a": "DROP TABLE notes; --"}],
    }


def test_sql_the_dialect_cannot_parse_is_refused_naming_the_dialect_and_where(sqlite_db):
    with pytest.raises(
        WritingQueryError, match=r"must parse as sqlite SQL, but .* line 1, column \d+"
    ) as refused:
        read_tables(sqlite_db, {"x": Query("SELECT name FROM notes WHERE name ~ 'a'")})
    assert "\"SELECT name FROM notes WHERE name ~ 'a'\"" in str(refused.value)


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_each_listed_side_effect_function_is_refused_wherever_it_is_called(dialect):
    names = [
        *read_only._SIDE_EFFECTS,
        *(prefix + "family_member" for prefix in read_only._SIDE_EFFECT_PREFIXES),
    ]
    for name in names:
        for sql in (
            f"SELECT {name}(1) AS x",
            f"SELECT id FROM notes WHERE {name.upper()}('a', 2) IS NOT NULL",
            f"WITH c AS (SELECT * FROM pg_catalog.{name}()) SELECT COUNT(*) FROM c",
        ):
            with pytest.raises(WritingQueryError, match=rf"but {name}\(\) appears in .*which a read-only"):
                read_only.check_select(sql, dialect)

"""The sql source only reads: a query that would write is refused before it runs, and whatever
slips past the parser runs in a transaction the database keeps read-only (SQLite, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from agentjobs.sources.errors import SourceError
from agentjobs.sources.read_only import WritingQueryError, check_select, read_only_transaction
from agentjobs.sources.sql import read_tables
from agentjobs.sources.teams import Query
from tests.business import fixtures

pg_schema = fixtures.pg_schema

READS = [
    "SELECT id, name FROM notes ORDER BY id",
    "select * from notes where id IN :ids;",
    "-- the latest\n/* one */ WITH recent AS (SELECT * FROM notes) SELECT COUNT(*) AS n FROM recent",
    "SELECT replace(name, 'a', 'b') AS name, 1 AS updated_at FROM notes UNION SELECT 'x', 2",
]
# (query, what the refusal names)
WRITES = [
    ("DROP TABLE notes", "got DROP"),
    ("DELETE FROM notes; COMMIT; SELECT 1", "exactly one statement, got 3"),
    ("SELECT 1; DELETE FROM notes", "exactly one statement, got 2"),
    ("WITH d AS (DELETE FROM notes RETURNING *) SELECT * FROM d", "but DELETE appears"),
    ("WITH u AS (UPDATE notes SET name = 'x' RETURNING id) SELECT * FROM u", "but UPDATE appears"),
    ("SELECT * INTO copied FROM notes", "but INTO appears"),
    ("SELECT * FROM notes FOR UPDATE", "but FOR UPDATE appears"),
    ("PRAGMA query_only = OFF", "got PRAGMA"),
    ("SET TRANSACTION READ WRITE", "got SET"),
    ("INSERT INTO notes (name) SELECT name FROM notes", "got INSERT"),
    ("  -- nothing\n", "exactly one statement, got 0"),
]


def make_notes(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, name TEXT)")
        conn.exec_driver_sql("INSERT INTO notes (id, name) VALUES (1, 'a'), (2, 'b')")


def count_notes(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT COUNT(*) FROM notes").scalar_one()


@pytest.fixture
def sqlite_notes(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'notes.db'}")
    make_notes(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_notes(pg_schema) -> sa.Engine:
    engine, _ = pg_schema
    make_notes(engine)
    return engine


@pytest.mark.parametrize("sql", READS)
def test_one_select_passes(sql):
    check_select(sql)


@pytest.mark.parametrize(("sql", "says"), WRITES)
def test_anything_but_one_reading_select_is_refused_naming_why(sql, says):
    with pytest.raises(WritingQueryError, match="sql source query") as refused:
        check_select(sql)
    assert says in str(refused.value)


def test_reads_still_read_on_sqlite(sqlite_notes):
    rows = read_tables(sqlite_notes, {"all": Query(READS[0]), "some": Query(READS[1], {"ids": [2]})})
    assert rows == {"all": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], "some": [{"id": 2, "name": "b"}]}


def test_drop_table_on_sqlite_is_refused_and_drops_nothing(sqlite_notes):
    with pytest.raises(WritingQueryError, match="got DROP"):
        read_tables(sqlite_notes, {"teams": Query("SELECT 1"), "oops": Query("DROP TABLE notes")})
    assert count_notes(sqlite_notes) == 2
    # Past the parser, SQLite itself refuses: the connection is query_only while the reader holds it.
    with sqlite_notes.connect() as conn, read_only_transaction(conn):
        with pytest.raises(sa.exc.OperationalError, match="readonly"):
            conn.exec_driver_sql("DROP TABLE notes")
    assert count_notes(sqlite_notes) == 2


def test_the_writing_kinds_still_write_on_the_connection_the_reader_used(tmp_path):
    # One pooled connection: the one the reader made query_only is the one the writer gets next.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'one.db'}", pool_size=1, max_overflow=0)
    make_notes(engine)
    assert read_tables(engine, {"n": Query("SELECT COUNT(*) AS n FROM notes")}) == {"n": [{"n": 2}]}
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO notes (id, name) VALUES (3, 'c')")
    assert count_notes(engine) == 3
    engine.dispose()


def test_delete_commit_select_on_postgres_deletes_nothing(pg_notes):
    with pytest.raises(WritingQueryError, match="exactly one statement"):
        read_tables(pg_notes, {"oops": Query("DELETE FROM notes; COMMIT; SELECT 1")})
    assert count_notes(pg_notes) == 2
    # Past the parser, the read-only transaction refuses the DELETE before the COMMIT is reached.
    with pg_notes.connect() as conn, read_only_transaction(conn):
        with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
            conn.exec_driver_sql("DELETE FROM notes; COMMIT; SELECT 1")
    assert count_notes(pg_notes) == 2
    assert read_tables(pg_notes, {"n": Query("SELECT COUNT(*) AS n FROM notes")}) == {"n": [{"n": 2}]}


def test_a_cte_that_deletes_on_postgres_is_refused_and_fails_read_only(pg_notes):
    cte = "WITH d AS (DELETE FROM notes RETURNING *) SELECT * FROM d"
    with pytest.raises(WritingQueryError, match="DELETE appears"):
        read_tables(pg_notes, {"oops": Query(cte)})
    with pg_notes.connect() as conn, read_only_transaction(conn):
        with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
            conn.exec_driver_sql(cte)
    assert count_notes(pg_notes) == 2


def test_an_autocommit_postgres_connection_is_refused_rather_than_read_writable(pg_notes):
    autocommit = pg_notes.execution_options(isolation_level="AUTOCOMMIT")
    with pytest.raises(SourceError, match=r"did not open a read-only transaction .*autocommit"):
        read_tables(autocommit, {"n": Query("SELECT COUNT(*) AS n FROM notes")})


def test_write_words_inside_a_string_or_a_quoted_name_are_only_text():
    check_select("SELECT 'DROP TABLE notes; DELETE FROM notes' AS note, \"update\" FROM notes")


def test_a_long_query_is_named_on_one_line_and_cut_short():
    query = "DELETE FROM notes\n    WHERE id IN (" + ", ".join(str(i) for i in range(500)) + ")"
    with pytest.raises(WritingQueryError) as refused:
        check_select(query)
    quoted = str(refused.value).split(": ", 1)[1].split("; kinds that write")[0]
    assert quoted.startswith("'DELETE FROM notes WHERE id IN (0, 1, 2") and quoted.endswith("…'")
    assert "\n" not in str(refused.value) and len(quoted) == 202  # 200 characters and the quotes

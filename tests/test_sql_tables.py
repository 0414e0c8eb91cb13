"""Tables created on first use by several workers at once: each of them goes on working."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from agentjobs.sql_tables import create_tables
from tests.postgres import own_schema

WORKERS = 8


def _metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "agentjobs_probe_runs",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job", sa.String(50), index=True),
    )
    sa.Table("agentjobs_probe_claims", metadata, sa.Column("key", sa.String(50), primary_key=True))
    return metadata


def _create_at_once(
    engine: sa.Engine, create: Callable[[sa.MetaData, sa.Engine], None]
) -> list[BaseException]:
    """`create(metadata, engine)` in WORKERS threads released together; the errors they raised."""
    start, errors = threading.Barrier(WORKERS), []

    def worker() -> None:
        start.wait()
        try:
            create(_metadata(), engine)
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_workers_creating_the_same_tables_at_once_on_postgresql_all_go_on():
    for round_ in range(3):
        with own_schema("sqltables") as (engine, _schema):
            assert _create_at_once(engine, create_tables) == [], f"round {round_}"
            inspector = sa.inspect(engine)
            assert inspector.has_table("agentjobs_probe_runs") and inspector.has_table(
                "agentjobs_probe_claims"
            )


def test_the_race_is_real_without_it():
    # The same start with SQLAlchemy's own create_all: some worker loses (else the test above proves nothing).
    lost = []
    for _ in range(5):
        with own_schema("sqltables") as (engine, _schema):
            lost += _create_at_once(
                engine, lambda metadata, engine: metadata.create_all(engine, checkfirst=True)
            )
        if lost:
            break
    assert lost, "eight simultaneous create_all calls never collided in five tries"


def test_an_error_that_leaves_a_table_missing_is_raised(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read-only' / 'x.db'}")  # its folder does not exist
    with pytest.raises(sa.exc.OperationalError):
        create_tables(_metadata(), engine)

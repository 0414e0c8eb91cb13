"""Copying the generated sample database into another one (PostgreSQL here): all of it or none,
replacing what was there, and a missing file named with the command that makes it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from agentjobs.business.load import load_into


def test_loading_again_replaces_the_rows_in_one_transaction(sample_db, pg_schema, tmp_path):
    # A cut-down copy of the sample (its first week of transactions and orders): loads are slow.
    path = tmp_path / "small.db"
    path.write_bytes(sample_db[0].read_bytes())
    small = sa.create_engine(f"sqlite:///{path}")
    with small.begin() as conn:
        for sql_text in (
            "DELETE FROM receipts",
            "DELETE FROM events",
            "DELETE FROM orders WHERE placed_at >= '2026-06-07'",
            "DELETE FROM transactions WHERE occurred_at >= '2026-06-07'",
        ):
            conn.execute(sa.text(sql_text))
    small.dispose()
    engine, schema = pg_schema
    first = load_into(path, engine, schema)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO teams (id, name, timezone, currency) VALUES ('x', 'X', 'UTC', 'EUR')")
        )
    assert load_into(path, engine, schema) == first and first["transactions"] > 500
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM teams WHERE id = 'x'")).scalar_one() == 0
        assert (
            conn.execute(sa.text("SELECT COUNT(*) FROM transactions")).scalar_one() == first["transactions"]
        )
    # A copy that fails part-way leaves the previous rows: nothing half-loaded is committed.
    broken = path.with_name("broken.db")
    broken.write_bytes(b"")
    with pytest.raises(sa.exc.SQLAlchemyError):
        load_into(broken, engine, schema)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == first["orders"]


def test_a_missing_sample_database_is_named_with_the_command_that_generates_it(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'target.db'}")
    missing = tmp_path / "nowhere" / "business.db"
    with pytest.raises(FileNotFoundError) as err:
        load_into(missing, engine)
    engine.dispose()
    assert str(err.value) == f"no sample database at {missing}; generate it first (agentjobs business-db)"
    assert not (tmp_path / "target.db").exists()  # refused before the target was touched

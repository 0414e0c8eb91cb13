"""Loading Ledgerly into PostgreSQL: all of it or none, replacing what was there, so loading
twice leaves what loading once does; refused on a database it cannot live in."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from agentjobs.business.ledgerly.load import has_rows, load


def _small(rows):
    """The directory, accounts and first 500 transactions: enough to prove the load, and fast."""
    keep = ("workspaces", "workspace_members", "bank_accounts", "customers", "customer_facts")
    small = {name: rows[name] for name in keep}
    # Refunds point at earlier rows; the first 500 by time hold every row a refund of them names.
    txns = sorted(rows["transactions"], key=lambda r: r["booked_at"])[:500]
    ids = {r["id"] for r in txns}
    small["transactions"] = [r for r in txns if r["refund_of"] is None or r["refund_of"] in ids]
    return small


def test_loading_twice_replaces_the_rows_in_one_transaction(ledgerly, pg_schema):
    engine, schema = pg_schema
    rows = _small(ledgerly[0])
    assert not has_rows(engine, schema)
    first = load(engine, rows, schema)
    assert has_rows(engine, schema)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM customer_facts"))
        conn.execute(
            sa.text(
                "INSERT INTO workspaces (id, slug, display_name, timezone, base_currency, created_at) "
                "VALUES (gen_random_uuid(), 'x', 'X', 'UTC', 'EUR', now())"
            )
        )
    assert load(engine, rows, schema) == first and first["transactions"] > 400
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM workspaces WHERE slug = 'x'")).scalar_one() == 0
        assert (
            conn.execute(sa.text("SELECT COUNT(*) FROM customer_facts")).scalar_one()
            == first["customer_facts"]
        )
    # A load that fails part-way (a transaction of an account that is not there) leaves the old rows.
    broken = {
        **rows,
        "transactions": [
            *rows["transactions"],
            {
                **rows["transactions"][0],
                "id": rows["workspaces"][0]["id"],
                "account_id": rows["workspaces"][0]["id"],
            },
        ],
    }
    with pytest.raises(sa.exc.IntegrityError):
        load(engine, broken, schema)
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT COUNT(*) FROM transactions")).scalar_one() == first["transactions"]
        )


def test_a_load_is_refused_on_sqlite_and_for_a_schema_name_that_is_not_an_identifier(ledgerly, tmp_path):
    sqlite = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match="PostgreSQL's"):
        load(sqlite, ledgerly[0])
    sqlite.dispose()
    pg = sa.create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")  # never connected to
    with pytest.raises(ValueError, match="schema name"):
        load(pg, ledgerly[0], 'x"; DROP SCHEMA public; --')
    pg.dispose()

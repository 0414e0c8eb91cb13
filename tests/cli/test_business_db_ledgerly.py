"""`agentjobs business-db --schema ledgerly`: the product-shaped schema loaded into PostgreSQL and
its truth written; a loaded one is kept unless --force."""

from __future__ import annotations

import json

import sqlalchemy as sa

from tests.cli.helpers import agentjobs
from tests.postgres import fresh_database


def test_business_db_loads_ledgerly_and_keeps_it_without_force(tmp_path):
    with fresh_database("agentjobs_cli") as name:
        uri = f"postgresql://postgres@127.0.0.1:5432/{name}"
        args = ("business-db", "--schema", "ledgerly", "--out", str(tmp_path / "b.db"), "--postgres-uri", uri)
        result = agentjobs(*args, env={}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        truth = json.loads((tmp_path / "ledgerly.truth.json").read_text())
        assert not (tmp_path / "b.db").exists()  # no SQLite file: ledgerly lives in PostgreSQL only
        engine = sa.create_engine(uri.replace("postgresql://", "postgresql+psycopg2://"))
        with engine.connect() as conn:
            planted = truth["duplicate_charges"][0]["duplicate_id"]
            found = conn.execute(
                sa.text("SELECT COUNT(*) FROM ledgerly.transactions WHERE id = :id"), {"id": planted}
            ).scalar_one()
            workspaces = conn.execute(sa.text("SELECT COUNT(*) FROM ledgerly.workspaces")).scalar_one()
        assert (workspaces, found) == (4, 1)
        assert f"into postgresql://postgres@127.0.0.1:5432/{name} schema ledgerly" in result.stdout
        # Again without --force: refused, naming what is kept; with it, replaced.
        (tmp_path / "ledgerly.truth.json").unlink()
        again = agentjobs(*args, env={}, cwd=tmp_path)
        assert again.returncode != 0 and "schema ledgerly exists and is kept" in again.stderr
        assert agentjobs(*args, "--force", env={}, cwd=tmp_path).returncode == 0
        engine.dispose()


def test_ledgerly_without_a_postgres_uri_is_refused_saying_what_to_add(tmp_path):
    result = agentjobs("business-db", "--schema", "ledgerly", env={}, cwd=tmp_path)
    assert result.returncode != 0 and "give --postgres-uri" in result.stderr
    assert not (tmp_path / "agentjobs-out").exists()

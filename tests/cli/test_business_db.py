"""`agentjobs business-db`: the sample business database written, and loaded into PostgreSQL."""

from __future__ import annotations

import json

from tests.cli.helpers import agentjobs
from tests.postgres import fresh_database


def test_business_db_loads_the_sample_into_postgresql(tmp_path):
    import sqlalchemy as sa

    with fresh_database("agentjobs_cli") as name:
        uri = f"postgresql://postgres@127.0.0.1:5432/{name}"
        result = agentjobs(
            "business-db", "--out", str(tmp_path / "b.db"), "--postgres-uri", uri, env={}, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        truth = json.loads((tmp_path / "b.truth.json").read_text())
        engine = sa.create_engine(uri.replace("postgresql://", "postgresql+psycopg2://"))
        with engine.connect() as conn:
            teams = conn.execute(sa.text("select count(*) from teams")).scalar()
            planted = truth["duplicate_charges"][0]["duplicate_id"]
            found = conn.execute(sa.text("select count(*) from transactions where id = :id"), {"id": planted})
            assert (teams, found.scalar()) == (5, 1)
        engine.dispose()
        assert f"into postgresql://postgres@127.0.0.1:5432/{name}" in result.stdout

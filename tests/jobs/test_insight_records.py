"""The weekly insights' records (jobs/insight_records.py): a team's week written once, all its rows
or none, in agentjobs' own table (its own schema on PostgreSQL) or a table of the user's; a
mapping the target cannot take is refused with the column named."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.jobs.input_check import check_writes
from agentjobs.jobs.insight_records import INSIGHT_RECORDS, write_records
from agentjobs.jobs.spec import WriteMapping
from agentjobs.jobs.writes import SpecWrites, WriteMappingError, check_write_mapping

INSIGHTS = [
    {"text": "Travel spend: €1,200.00 this week", "metric": "spend:travel", "numbers": {"this_week": 120000}},
    {"text": "Revenue was flat", "metric": "revenue", "numbers": {}},
]
KIND = SimpleNamespace(name="weekly_insights", writes=(INSIGHT_RECORDS,))


def _write(engine: sa.Engine, writes: SpecWrites, insights: list[dict[str, Any]], job: str = "wi") -> int:
    return write_records(
        engine,
        writes,
        job=job,
        team_id="t1",
        week="2026-11-29",
        insights=insights,
        sha256="ab" * 32,
        sent_at=datetime(2026, 11, 29, 8, 5),
    )


def _rows(engine: sa.Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT job, position, metric, text FROM {table}"))]


def test_on_sqlite_a_week_is_written_once_per_job(tmp_path: Path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'business.db'}")
    writes = SpecWrites({})
    assert _write(engine, writes, INSIGHTS) == 2
    assert _write(engine, writes, INSIGHTS) == 0  # a retry, clear or backfill
    assert _write(engine, writes, INSIGHTS[:1], job="other") == 1  # another job keeps its own
    assert sorted(_rows(engine, "insight_records")) == [
        ("other", 1, "spend:travel", INSIGHTS[0]["text"]),
        ("wi", 1, "spend:travel", INSIGHTS[0]["text"]),
        ("wi", 2, "revenue", "Revenue was flat"),
    ]
    engine.dispose()


def test_on_postgresql_the_records_get_the_own_schema_and_a_failed_row_writes_none(
    pg_schema: tuple[sa.Engine, str],
):
    engine, schema = pg_schema
    own = f"{schema}_own"
    writes = SpecWrites({}, own)
    try:
        broken = [*INSIGHTS, {"text": None, "metric": None}]  # the third row breaks NOT NULL
        with pytest.raises(sa.exc.IntegrityError):
            _write(engine, writes, broken)
        assert _rows(engine, f'"{own}".insight_records') == []  # never half-written
        assert _write(engine, writes, INSIGHTS) == 2
        assert len(_rows(engine, f'"{own}".insight_records')) == 2
        assert sa.inspect(engine).get_foreign_keys("insight_records", schema=own) == []
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{own}" CASCADE')


def test_a_users_table_gets_only_the_columns_mapped(tmp_path: Path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'business.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE sent (team TEXT, wk TEXT, body TEXT, extra TEXT DEFAULT 'kept')"))
    mapping = WriteMapping(table="sent", columns={"team_id": "team", "week": "wk", "text": "body"})
    writes = SpecWrites({"insight_records": mapping})
    assert check_writes(engine, KIND, writes.mapping)[0].problems == []
    assert _write(engine, writes, INSIGHTS) == 2
    assert _write(engine, writes, INSIGHTS, job="other") == 0  # no job column: the team's week is the key
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT team, wk, body, extra FROM sent ORDER BY body")).all()
    assert [tuple(r) for r in rows] == [
        ("t1", "2026-11-29", "Revenue was flat", "kept"),
        ("t1", "2026-11-29", INSIGHTS[0]["text"], "kept"),
    ]
    assert "insight_records" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_a_column_the_users_table_lacks_is_named_before_the_model(tmp_path: Path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'business.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE sent (team TEXT, wk TEXT, body TEXT)"))
    mapping = WriteMapping(table="sent", columns={"team_id": "team", "week": "wk", "text": "message"})
    (verdict,) = check_writes(engine, KIND, {"insight_records": mapping})
    assert (
        verdict.problems and "'message'" in verdict.problems[0] and "insight_records" in verdict.problems[0]
    )
    engine.dispose()


def test_the_target_takes_rows_only_and_its_week():
    update = WriteMapping.model_validate({"update": {"table": "t", "key": "team", "columns": {"text": "x"}}})
    with pytest.raises(WriteMappingError, match="writes rows"):
        check_write_mapping([INSIGHT_RECORDS], {"insight_records": update}, "weekly_insights")
    no_week = WriteMapping(table="sent", columns={"team_id": "team", "text": "body"})
    with pytest.raises(WriteMappingError, match="'week'"):
        check_write_mapping([INSIGHT_RECORDS], {"insight_records": no_week}, "weekly_insights")

"""A group of rows written once (writes.write_group_once, the weekly insights' records) into a
PostgreSQL table of the user's whose group columns are not text: the team a `uuid`, the week a
`date` or a `timestamptz`, when the delivery a `timestamptz`. The values come as str and naive
datetimes; the server must give each its column's type, under psycopg2 and under psycopg 3 (the
driver of Airflow's postgres connections, which binds a typed str as varchar: `uuid = varchar`
is an error). A second write of the same group writes nothing; another team's week is its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.jobs.insight_records import write_records
from agentjobs.jobs.spec import WriteMapping
from agentjobs.jobs.writes import SpecWrites
from tests.postgres import own_schema

TEAMS = [str(uuid.UUID(int=n)) for n in (1, 2)]
INSIGHTS = [
    {"text": "Travel spend: €1,200.00 this week", "metric": "spend:travel", "numbers": {"this_week": 120000}},
    {"text": "Revenue was flat", "metric": "revenue", "numbers": {}},
]
MAPPING = WriteMapping(
    table="sent",  # unqualified: the engine's search_path is the test's schema
    columns={
        "job": "job",
        "team_id": "team",
        "week": "wk",
        "position": "pos",
        "text": "body",
        "sent_at": "at",
    },
)


@pytest.fixture(params=["psycopg2", "psycopg"])
def user_pg(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """An engine on a schema of this test's own in the test database (its search_path), through
    the driver of the parameter, sessions in UTC; the schema dropped afterwards."""
    driver = request.param
    if driver == "psycopg":
        pytest.importorskip("psycopg", reason="psycopg 3 is not installed (the postgres provider brings it)")
    url = f"postgresql+{driver}://postgres@127.0.0.1:5432/test"
    # UTC sessions: a naive datetime or a bare day stored in a timestamptz column is read in the
    # session's zone (what the user's server does with it is theirs; here it is fixed).
    with own_schema("writes_group", url, "-ctimezone=UTC") as (engine, _):
        yield engine


def _write(engine: sa.Engine, team: str) -> int:
    return write_records(
        engine,
        SpecWrites({"insight_records": MAPPING}),
        job="wi",
        team_id=team,
        week="2026-11-29",
        insights=INSIGHTS,
        sha256="ab" * 32,
        sent_at=datetime(2026, 11, 29, 8, 5),  # naive UTC, as the deliver task gives it
    )


@pytest.mark.parametrize("week_type", ["date", "timestamptz"])
def test_a_teams_week_goes_once_into_uuid_and_date_columns(user_pg: sa.Engine, week_type: str) -> None:
    with user_pg.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE sent (job text, team uuid NOT NULL, wk {week_type} NOT NULL, pos integer, "
            "body text NOT NULL, at timestamptz)"
        )
    assert _write(user_pg, TEAMS[0]) == 2
    assert _write(user_pg, TEAMS[0]) == 0  # a retry, clear or backfill: that week is there
    assert _write(user_pg, TEAMS[1]) == 2  # another team's same week is not
    with user_pg.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT team::text, CAST(wk AS date), pos, body, at FROM sent ORDER BY team, pos")
        ).all()
    at = datetime.fromisoformat("2026-11-29T08:05:00+00:00")
    expected: list[tuple[Any, ...]] = [
        (team, date(2026, 11, 29), n, insight["text"], at)
        for team in TEAMS
        for n, insight in enumerate(INSIGHTS, start=1)
    ]
    assert [tuple(r) for r in rows] == expected

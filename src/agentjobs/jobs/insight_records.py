"""What a weekly insights job sent, stored in the business database beside the files: one row per
insight of a team's week (its metric, its text, its numbers as JSON), with the sha256 of the
artifact delivered and when. Plain data and SQLAlchemy Core, no Airflow.

The rows are written by the deliver task once every target of the team has its delivery (so the
table says what was sent, not what was about to be): a week whose delivery failed has no rows
until a retry delivers it. A team's week is written in one transaction, all its rows or none,
and only while no row of that job, team and week is there: a retry, clear, backfill or
`force_redeliver` adds nothing (the first delivery's rows stay, as the delivery ledger keeps
the first sha256).

By default the rows go to agentjobs' own `insight_records` (jobs/own_tables.py: schema
`agentjobs` on PostgreSQL, a table of the same file on SQLite). A spec maps them to a table of
the user's with `sources.sql.writes.insight_records: {table, columns}` (YAML only); the columns
it leaves out are not written, `team_id` and `week` must be mapped (they say what was written).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.writes import Destination, SpecWrites, WriteColumn, WriteTarget, write_group_once

INSIGHT_RECORDS = WriteTarget(
    "insight_records",
    "one row per insight sent to a team for a week (a team's week written once)",
    (
        WriteColumn("team_id", "text", "the team's id", required=True),
        WriteColumn("week", "text", "the week's period key: its last local day, ISO", required=True),
        WriteColumn("text", "text", "the insight as it was sent, plain text", required=True),
        WriteColumn("position", "integer", "its place among the week's insights, from 1"),
        WriteColumn("metric", "text", "the metric it reports (e.g. spend:travel); NULL: none alone"),
        WriteColumn("numbers", "text", "its numbers as JSON"),
        WriteColumn("sha256", "text", "sha256 of the artifact delivered"),
        WriteColumn("sent_at", "timestamp", "when its delivery was done (UTC)"),
        WriteColumn("job", "text", "the job's dag_id, when two jobs share the table"),
    ),
    unique=(),
    group=("job", "team_id", "week"),
)


def records_destination(engine: sa.Engine, writes: SpecWrites) -> Destination:
    """Where this spec's insight records go: the table it maps, or agentjobs' own one."""
    from agentjobs.jobs.own_tables import ensure_insight_records

    mapped = writes.destination(INSIGHT_RECORDS)
    if mapped is not None:
        return mapped
    table = ensure_insight_records(engine, writes.own_schema)
    name = f"{table.schema}.{table.name}" if table.schema else table.name
    columns = {c.name: c.name for c in INSIGHT_RECORDS.columns[1:]}
    return Destination(INSIGHT_RECORDS, name, {INSIGHT_RECORDS.key: INSIGHT_RECORDS.key, **columns}, None)


def write_records(
    engine: sa.Engine,
    writes: SpecWrites,
    *,
    job: str,
    team_id: str,
    week: str,
    insights: Sequence[dict[str, Any]],
    sha256: str,
    sent_at: datetime,
) -> int:
    """Write a team's week of `insights` ({text, metric, numbers}, in the order sent) in one
    transaction; the number of rows written (0: that week was recorded before)."""
    dest = records_destination(engine, writes)
    rows = [
        {
            "job": job,
            "team_id": team_id,
            "week": week,
            "position": n,
            "metric": insight.get("metric"),
            "text": insight["text"],
            "numbers": json.dumps(insight.get("numbers") or {}, sort_keys=True, ensure_ascii=False),
            "sha256": sha256,
            "sent_at": sent_at,
        }
        for n, insight in enumerate(insights, start=1)
    ]
    with engine.begin() as conn:
        return len(rows) if write_group_once(conn, dest, rows) else 0

"""The enrichment job's one write to the business database: a validated artifact's updates, once.

All updates of a team's run go in one transaction, each `UPDATE customers ... WHERE id = :id
AND team_id = :team AND enriched_at IS NULL`: a row enriched before (by an earlier try of this
run, a clear, a backfill of another day or any other writer) is left exactly as it is, so a
record is enriched once whatever reruns. Only the enrichment columns are in the statement;
`enriched_at` and `enrichment_source` are set by code.

A spec that maps the `enrichment` write target (jobs/writes.py) stores the values in the
user's own table instead: a row per customer in a side table (written once per customer), or
an UPDATE of the user's own columns while they are NULL. Still one transaction per team.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from agentjobs.jobs.kinds.base import CheckFailed, TeamSnapshot
from agentjobs.jobs.kinds.enrichment_values import BadValue, clean_fields
from agentjobs.jobs.writes import SpecWrites, WriteColumn, WriteTarget, write_once

ENRICHMENT = WriteTarget(
    "enrichment",
    "one row of values per enriched customer (a customer once)",
    (
        WriteColumn("customer_id", "text", "the customer's id, as its input reads it", required=True),
        WriteColumn("industry", "text", "the company's industry or sector"),
        WriteColumn("country", "text", "ISO 3166 two-letter code of its head office"),
        WriteColumn("employee_count", "integer", "its number of employees"),
        WriteColumn("website", "text", "its web site, an http(s) URL"),
        WriteColumn("source", "text", "the lookup URL the values came from"),
        WriteColumn("enriched_at", "timestamp", "when the values were written (UTC)"),
    ),
    unique=("customer_id",),
)

log = logging.getLogger(__name__)


def write_updates(
    engine: sa.Engine,
    snapshot: TeamSnapshot,
    updates: list[dict[str, Any]],
    sources: dict[str, str],
    writes: SpecWrites | None = None,
) -> dict[str, list[str]]:
    """Write `updates` ([{customer_id, fields, source}]); `sources` maps each snapshot customer to
    the one URL its values may come from. Returns the ids written and those already enriched."""
    from agentjobs.business.schema import customers

    planned = []
    for update in updates:
        customer_id = str(update.get("customer_id"))
        if customer_id not in sources:
            raise CheckFailed(f"{customer_id!r} is not a customer of this run's snapshot")
        if update.get("source") != sources[customer_id]:
            raise CheckFailed(f"the source of {customer_id!r} is not its lookup URL {sources[customer_id]!r}")
        try:
            values = clean_fields(update.get("fields"))
        except BadValue as exc:
            raise CheckFailed(f"{customer_id}: {exc}") from None
        planned.append((customer_id, values, sources[customer_id]))
    now = datetime.now(UTC).replace(tzinfo=None)  # the tables hold naive UTC
    written: list[str] = []
    kept: list[str] = []
    dest = writes.destination(ENRICHMENT) if writes is not None else None
    with engine.begin() as conn:
        for customer_id, values, source in planned:
            if dest is not None:
                row = {"customer_id": customer_id, **values, "source": source, "enriched_at": now}
                mapped = {ENRICHMENT.key, *dest.columns}
                done = write_once(conn, dest, {k: v for k, v in row.items() if k in mapped})
                (written if done else kept).append(customer_id)
                continue
            statement = (
                customers.update()
                .where(
                    customers.c.id == customer_id,
                    customers.c.team_id == snapshot.team.id,
                    customers.c.enriched_at.is_(None),
                )
                .values(**values, enriched_at=now, enrichment_source=source)
            )
            (written if conn.execute(statement).rowcount == 1 else kept).append(customer_id)
    if kept:
        log.warning("%s: already enriched, left as they are: %s", snapshot.team.id, ", ".join(kept))
    return {"enriched": written, "already_enriched": kept}

"""The enrichment job's one write to the business database: a validated artifact's updates, once.

All updates of a team's run go in one transaction, each `UPDATE customers ... WHERE id = :id
AND team_id = :team AND enriched_at IS NULL`: a row enriched before (by an earlier try of this
run, a clear, a backfill of another day or any other writer) is left exactly as it is, so a
record is enriched once whatever reruns. Only the enrichment columns are in the statement;
`enriched_at` and `enrichment_source` are set by code.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from agentjobs.jobs.kinds.base import CheckFailed, TeamSnapshot
from agentjobs.jobs.kinds.enrichment_values import BadValue, clean_fields

log = logging.getLogger(__name__)


def write_updates(
    engine: sa.Engine, snapshot: TeamSnapshot, updates: list[dict[str, Any]], sources: dict[str, str]
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
    with engine.begin() as conn:
        for customer_id, values, source in planned:
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

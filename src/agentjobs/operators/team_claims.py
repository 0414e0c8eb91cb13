"""The claim step of a fetch for kinds that batch events (batch_notifications): the rows read
become the window's claimed events, through the claims ledger in the ledger database.

A kind opts in by implementing capabilities.Claims: `claimable(snapshot, settings)` (the read
rows its window may take) and `with_claimed(snapshot, rows)` (the snapshot made of the claimed
rows); with capabilities.ReportsIgnored it also names the rows no window takes. The claim is keyed by
the team's ledger job and the period's key (the window), so a retry or a refetch of the
window gets the same rows back, and no two windows of the team share an event.
"""

from __future__ import annotations

import logging
from typing import Any

from agentjobs.jobs.kinds.base import TeamSnapshot
from agentjobs.jobs.kinds.capabilities import Claims, ReportsIgnored
from agentjobs.jobs.spec import JobSpec
from agentjobs.jobs.team_run import ledger_job


def claims_kind(kind: Any) -> bool:
    return isinstance(kind, Claims)


def claim_snapshot(
    kind: Claims, settings: Any, snapshot: TeamSnapshot, spec: JobSpec, run_id: str, log: logging.Logger
) -> TeamSnapshot | None:
    """The window's snapshot of claimed events; None when it claimed none (nothing to send)."""
    from agentjobs.delivery.claims import EventClaims  # run time: its tables are not a parse's
    from agentjobs.hooks.ledger import LedgerHook

    ignored = kind.unknown_categories(snapshot, settings) if isinstance(kind, ReportsIgnored) else {}
    if ignored:
        # Database text in a log line: counted and cut short, never trusted as markup.
        named = ", ".join(f"{str(c)[:40]!r}: {n}" for c, n in sorted(ignored.items()))
        log.warning(
            "%s: events of categories with no window are not notified (%s); add them to the spec's "
            "%s.windows",
            snapshot.team.id,
            named,
            kind.name,
        )
    claims = EventClaims(LedgerHook(spec.ledger_conn_id).get_engine(job=spec.dag_id))
    rows = claims.claim(
        job=ledger_job(spec.dag_id, snapshot.team.id),
        window=snapshot.period.key,
        candidates=kind.claimable(snapshot, settings),
        run_id=run_id,
    )
    log.info("%s: window %s holds %d event(s)", snapshot.team.id, snapshot.period.key, len(rows))
    return kind.with_claimed(snapshot, rows) if rows else None

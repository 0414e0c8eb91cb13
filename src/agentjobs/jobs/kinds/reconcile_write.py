"""The one write of `reconciliation`: links and the processed-records ledger, in one transaction.

Each judged receipt gets one `processed_records` row (linked, review, no_match, conflict) in
the same database transaction as its link, so either both are there or neither:
- a retry, clear or backfill finds the row and writes nothing again; if it now says something
  else about the record (a model asked again answered otherwise), it fails naming the record
  instead of writing a second opinion;
- a link is `UPDATE receipts SET transaction_id = :t WHERE id = :r AND transaction_id IS NULL`
  and only when no other receipt holds that transaction, with the transaction's row locked
  (PostgreSQL) so two jobs cannot link one transaction to two receipts. A link that finds the
  receipt or the transaction taken is recorded as a `conflict`, never forced.

A spec that maps the `links` write target (jobs/writes.py) gets a row in the user's own table
(or an UPDATE of the user's own column) instead, with the same once-only rule, and the ledger
is agentjobs' own table without foreign keys (jobs/own_tables.py); else both are the sample's.

invoice_reconciliation writes through the same path with its own record type ('payment') and
target (`allocations`, which it must map: the sample has no payments); the ledger's
`transaction_id` then holds the invoice's id (the record's chosen candidate, whatever it is).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from agentjobs.jobs.kinds.base import CheckFailed
from agentjobs.jobs.kinds.reconcile_links import AUTO, LINKS
from agentjobs.jobs.own_tables import ensure_ledger
from agentjobs.jobs.writes import Destination, SpecWrites, WriteTarget, write_once

RECORD_TYPE = "receipt"


class LedgerDisagrees(CheckFailed):
    """The ledger already holds another decision for a record this run decided (permanent)."""


@dataclass(frozen=True)
class Decision:
    record_id: str
    outcome: str  # linked | review | no_match
    transaction_id: str | None = None  # the chosen candidate: a transaction, or an invoice
    confidence: float | None = None
    note: str = ""
    amount_cents: int | None = None  # what the link allocates, for a target with that column


@dataclass
class Written:
    linked: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)  # review / no_match rows written now
    already: list[str] = field(default_factory=list)  # the ledger had this very decision
    conflicts: list[str] = field(default_factory=list)


def decisions_of(result: dict[str, Any]) -> list[Decision]:
    """The decisions of a validated RESULT (`links`, `review`, `no_match`), in record id order."""
    found = [
        Decision(rid, "linked", str(v["transaction"]), float(v["confidence"]))
        for rid, v in (result.get("links") or {}).items()
    ]
    found += [
        Decision(rid, "review", str(v["transaction"]), float(v["confidence"]), str(v.get("why", "")))
        for rid, v in (result.get("review") or {}).items()
    ]
    found += [Decision(rid, "no_match", note=str(why)) for rid, why in (result.get("no_match") or {}).items()]
    return sorted(found, key=lambda d: d.record_id)


def _permille(confidence: float | None) -> int | None:
    return None if confidence is None else round(confidence * 1000)


def _confidence(row: Any) -> float | None:
    permille = row["confidence_permille"]
    return None if permille is None else permille / 1000


def _link(conn: sa.Connection, team_id: str, record_id: str, transaction_id: str) -> bool:
    """Link one receipt; False when the receipt or the transaction is taken already."""
    from agentjobs.business.schema import receipts, transactions  # run time: ~4 ms of tables at parse

    locked = (
        sa.select(transactions.c.id)
        .where(transactions.c.id == transaction_id, transactions.c.team_id == team_id)
        .with_for_update()  # PostgreSQL: one linker of this transaction at a time; SQLite locks the file
    )
    if conn.execute(locked).first() is None:
        return False
    taken = sa.exists().where(receipts.c.transaction_id == transaction_id)
    updated = conn.execute(
        receipts.update()
        .where(
            receipts.c.id == record_id,
            receipts.c.team_id == team_id,
            receipts.c.transaction_id.is_(None),
            ~taken,
        )
        .values(transaction_id=transaction_id)
    )
    return updated.rowcount == 1


@dataclass(frozen=True)
class Target:
    """Where this spec's links and ledger rows go: the sample's tables, or the mapped ones."""

    ledger: sa.Table
    links: Destination | None  # None: UPDATE the sample's receipts

    @classmethod
    def of(cls, engine: sa.Engine, writes: SpecWrites | None, target: WriteTarget = LINKS) -> Target:
        links = writes.destination(target) if writes is not None else None
        if links is None or writes is None:
            if target is not LINKS:  # only receipts have a sample-database write
                raise CheckFailed(
                    f"nothing to write the {target.name!r} to: map sources.sql.writes.{target.name} "
                    "onto a table of the business database"
                )
            from agentjobs.business.schema import processed_records

            return cls(processed_records, None)
        return cls(ensure_ledger(engine, writes.own_schema), links)

    def link(
        self, conn: sa.Connection, team_id: str, decision: Decision, now: datetime, by: str = AUTO
    ) -> bool:
        assert decision.transaction_id is not None
        if self.links is None:
            return _link(conn, team_id, decision.record_id, decision.transaction_id)
        target = self.links.target
        row = {
            target.key: decision.record_id,
            target.columns[1].name: decision.transaction_id,  # the chosen candidate's id
            "confidence": decision.confidence,
            "amount_cents": decision.amount_cents,
            "linked_at": now,
            "linked_by": by,
        }
        return write_once(conn, self.links, {k: v for k, v in row.items() if k in self._mapped()})

    def _mapped(self) -> set[str]:
        assert self.links is not None
        return {LINKS.key, *self.links.columns}


def write_decisions(
    engine: sa.Engine,
    *,
    period: str,
    team_id: str,
    decisions: list[Decision],
    writes: SpecWrites | None = None,
    record_type: str = RECORD_TYPE,
    write_target: WriteTarget = LINKS,
) -> Written:
    """Write every decision with its ledger row, all in one transaction (see the module docstring)."""
    written = Written()
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = [d.record_id for d in decisions]
    target = Target.of(engine, writes, write_target)
    ledger = target.ledger
    with engine.begin() as conn:
        # Here, not at the top: sources.sql brings sqlglot, which a DAG parse must not load.
        from agentjobs.sources.sql import utc_session

        utc_session(conn)  # `linked_at` is naive UTC: a timestamptz column must not read it as local
        rows = conn.execute(
            sa.select(ledger).where(ledger.c.record_type == record_type, ledger.c.record_id.in_(ids))
        ).mappings()
        known = {row["record_id"]: row for row in rows}
        for decision in decisions:
            row = known.get(decision.record_id)
            if row is not None:
                said = (row["outcome"], row["transaction_id"])
                if row["outcome"] == "conflict" and decision.outcome == "linked":
                    said = ("linked", row["transaction_id"])  # an earlier try found it taken
                if said != (decision.outcome, decision.transaction_id):
                    raise LedgerDisagrees(
                        f"{record_type} {decision.record_id} was judged already ({row['outcome']}"
                        f"{' ' + row['transaction_id'] if row['transaction_id'] else ''}, for "
                        f"{row['judged_for']}); this run says {decision.outcome}"
                        f"{' ' + decision.transaction_id if decision.transaction_id else ''}. Nothing "
                        "was written; clear the run from 'fetch' with refetch=true to judge the rest"
                    )
                written.already.append(decision.record_id)
                continue
            outcome, note = decision.outcome, decision.note
            if outcome == "linked":
                if target.link(conn, team_id, decision, now):
                    written.linked.append(decision.record_id)
                else:
                    other = write_target.columns[1].name.removesuffix("_id")  # transaction, invoice
                    outcome, note = "conflict", f"the {record_type} or the {other} was linked meanwhile"
                    written.conflicts.append(decision.record_id)
            else:
                written.recorded.append(decision.record_id)
            conn.execute(
                ledger.insert().values(
                    record_type=record_type,
                    record_id=decision.record_id,
                    team_id=team_id,
                    judged_for=period,
                    outcome=outcome,
                    transaction_id=decision.transaction_id,
                    confidence_permille=_permille(decision.confidence),
                    note=note[:500],
                    processed_at=now,
                )
            )
    return written


def resolve_review(
    engine: sa.Engine,
    *,
    reviewer: str,
    team_id: str,
    approved: dict[str, str],
    rejected: list[str],
    writes: SpecWrites | None = None,
    record_type: str = RECORD_TYPE,
    write_target: WriteTarget = LINKS,
    amounts: dict[str, int] | None = None,
) -> Written:
    """A person's answer to the review: approved receipts linked (receipt id -> transaction id, as
    proposed), rejected ones closed; only rows still in `review`, in one transaction. `amounts`:
    what each approved link allocates, for a target that writes it (a payment's amount)."""
    written = Written()
    target = Target.of(engine, writes, write_target)
    ledger = target.ledger
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        # Here, not at the top: sources.sql brings sqlglot, which a DAG parse must not load.
        from agentjobs.sources.sql import utc_session

        utc_session(conn)
        for record_id in sorted({*approved, *rejected}):
            row = (
                conn.execute(
                    sa.select(ledger).where(
                        ledger.c.record_type == record_type,
                        ledger.c.record_id == record_id,
                    )
                )
                .mappings()
                .first()
            )
            if row is None or row["outcome"] != "review":
                written.already.append(record_id)
                continue
            outcome = "rejected"
            if record_id in approved:
                if approved[record_id] != row["transaction_id"]:
                    raise LedgerDisagrees(
                        f"{record_type} {record_id} was proposed for {row['transaction_id']}, not "
                        f"{approved[record_id]}"
                    )
                amount = (amounts or {}).get(record_id)
                proposed = Decision(record_id, "linked", approved[record_id], _confidence(row), "", amount)
                linked = target.link(conn, team_id, proposed, now, reviewer)
                outcome = "linked" if linked else "conflict"
                (written.linked if linked else written.conflicts).append(record_id)
            else:
                written.recorded.append(record_id)
            conn.execute(
                ledger.update()
                .where(
                    ledger.c.record_type == record_type,
                    ledger.c.record_id == record_id,
                    ledger.c.outcome == "review",
                )
                .values(outcome=outcome, note=f"{row['note']}; {outcome} by {reviewer}"[:500])
            )
    return written

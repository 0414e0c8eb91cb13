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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from agentjobs.business.schema import processed_records, receipts, transactions
from agentjobs.jobs.kinds.base import CheckFailed

RECORD_TYPE = "receipt"


class LedgerDisagrees(CheckFailed):
    """The ledger already holds another decision for a record this run decided (permanent)."""


@dataclass(frozen=True)
class Decision:
    record_id: str
    outcome: str  # linked | review | no_match
    transaction_id: str | None = None
    confidence: float | None = None
    note: str = ""


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


def _link(conn: sa.Connection, team_id: str, record_id: str, transaction_id: str) -> bool:
    """Link one receipt; False when the receipt or the transaction is taken already."""
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


def write_decisions(engine: sa.Engine, *, period: str, team_id: str, decisions: list[Decision]) -> Written:
    """Write every decision with its ledger row, all in one transaction (see the module docstring)."""
    written = Written()
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = [d.record_id for d in decisions]
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(processed_records).where(
                processed_records.c.record_type == RECORD_TYPE, processed_records.c.record_id.in_(ids)
            )
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
                        f"receipt {decision.record_id} was judged already ({row['outcome']}"
                        f"{' ' + row['transaction_id'] if row['transaction_id'] else ''}, for "
                        f"{row['judged_for']}); this run says {decision.outcome}"
                        f"{' ' + decision.transaction_id if decision.transaction_id else ''}. Nothing "
                        "was written; clear the run from 'fetch' with refetch=true to judge the rest"
                    )
                written.already.append(decision.record_id)
                continue
            outcome, note = decision.outcome, decision.note
            if outcome == "linked":
                assert decision.transaction_id is not None
                if _link(conn, team_id, decision.record_id, decision.transaction_id):
                    written.linked.append(decision.record_id)
                else:
                    outcome, note = "conflict", "the receipt or the transaction was linked meanwhile"
                    written.conflicts.append(decision.record_id)
            else:
                written.recorded.append(decision.record_id)
            conn.execute(
                processed_records.insert().values(
                    record_type=RECORD_TYPE,
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
    engine: sa.Engine, *, reviewer: str, team_id: str, approved: dict[str, str], rejected: list[str]
) -> Written:
    """A person's answer to the review: approved receipts linked (receipt id -> transaction id, as
    proposed), rejected ones closed; only rows still in `review`, in one transaction."""
    written = Written()
    with engine.begin() as conn:
        for record_id in sorted({*approved, *rejected}):
            row = (
                conn.execute(
                    sa.select(processed_records).where(
                        processed_records.c.record_type == RECORD_TYPE,
                        processed_records.c.record_id == record_id,
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
                        f"receipt {record_id} was proposed for {row['transaction_id']}, not "
                        f"{approved[record_id]}"
                    )
                linked = _link(conn, team_id, record_id, approved[record_id])
                outcome = "linked" if linked else "conflict"
                (written.linked if linked else written.conflicts).append(record_id)
            else:
                written.recorded.append(record_id)
            conn.execute(
                processed_records.update()
                .where(
                    processed_records.c.record_type == RECORD_TYPE,
                    processed_records.c.record_id == record_id,
                    processed_records.c.outcome == "review",
                )
                .values(outcome=outcome, note=f"{row['note']}; {outcome} by {reviewer}"[:500])
            )
    return written

"""The delivery ledger: one row per attempt to deliver one artifact to one target.

A delivery is keyed by (job, logical_date, channel, target). Each attempt is a new row with
the next `attempt` number, so failures and forced re-deliveries stay in the history. The
newest row decides what a new claim may do:

    no row, 'failed'   -> claim (insert the next attempt as 'sending')
    'sent'             -> skip, unless forced
    'sending'          -> DeliveryStateUnknown, unless forced: a process died (or is still
                          running) between sending and recording, so only a human can tell
                          whether the target got it

Claims are race-safe without locks: the unique constraint on (key, attempt) lets exactly one
of two concurrent inserts of the same attempt succeed; the other gets an IntegrityError.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from agentjobs.agent.scrub import scrub
from agentjobs.sql_tables import create_tables

log = logging.getLogger(__name__)

TABLE_NAME = "agentjobs_delivery"
MAX_ERROR_CHARS = 2000

SENDING, SENT, FAILED = "sending", "sent", "failed"

_metadata = sa.MetaData()
_table = sa.Table(
    TABLE_NAME,
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(250), nullable=False),
    sa.Column("logical_date", sa.String(10), nullable=False),  # 'YYYY-MM-DD'
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("target", sa.String(512), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("receipt", sa.Text, nullable=True),  # JSON text
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("forced", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Also the index behind every lookup: its leading columns are the delivery key.
    sa.UniqueConstraint("job", "logical_date", "channel", "target", "attempt", name="uq_agentjobs_delivery"),
)


class DeliveryError(Exception):
    """Base of the ledger's errors."""


class DeliveryStateUnknown(DeliveryError):
    """The newest attempt is still 'sending': nobody knows whether the target received it."""


class DeliveryConflict(DeliveryError):
    """Another worker claimed the same delivery at the same moment, and won."""


@dataclass(frozen=True)
class Claim:
    """The right to send one attempt; hand it back to mark_sent or mark_failed."""

    id: int
    job: str
    logical_date: str
    channel: str
    target: str
    attempt: int
    run_id: str
    content_sha256: str
    forced: bool


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    job: str
    logical_date: str
    channel: str
    target: str
    attempt: int
    status: str
    run_id: str
    content_sha256: str
    receipt: dict[str, Any] | None
    error: str | None
    forced: bool
    created_at: datetime
    updated_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; everything stored here is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def normalize_date(logical_date: str | date) -> str:
    """'YYYY-MM-DD' from a date, a datetime or such a string (validated)."""
    if isinstance(logical_date, datetime):
        return logical_date.date().isoformat()
    if isinstance(logical_date, date):
        return logical_date.isoformat()
    return date.fromisoformat(logical_date).isoformat()


def _record(row: sa.Row[Any]) -> DeliveryRecord:
    m = row._mapping
    return DeliveryRecord(
        id=m["id"],
        job=m["job"],
        logical_date=m["logical_date"],
        channel=m["channel"],
        target=m["target"],
        attempt=m["attempt"],
        status=m["status"],
        run_id=m["run_id"],
        content_sha256=m["content_sha256"],
        receipt=json.loads(m["receipt"]) if m["receipt"] else None,
        error=m["error"],
        forced=bool(m["forced"]),
        created_at=_utc(m["created_at"]),
        updated_at=_utc(m["updated_at"]),
    )


class DeliveryLedger:
    """Deliveries in the table `agentjobs_delivery` (created if missing), on SQLite or PostgreSQL."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._create_table()

    @classmethod
    def from_conn_id(cls, conn_id: str | None, job: str | None = None) -> DeliveryLedger:
        """The ledger in the database of an Airflow connection (conn types `sqlite`, `postgres`).

        Without a connection id the ledger is the SQLite file `$AIRFLOW_HOME/agentjobs-ledger.db`.
        That file is only shared by workers on one host: with several worker hosts, give every
        delivery the same database connection. The engine is `LedgerHook`'s, shared with the job
        run log; a named connection that does not exist is an error, not a fallback. `job`, the
        job about to deliver, refuses a SQLite ledger its next try might not find
        (hooks/ledger_hosts.py).
        """
        from agentjobs.hooks.ledger import LedgerHook

        return cls(LedgerHook(conn_id).get_engine(job=job))

    def _create_table(self) -> None:
        create_tables(_metadata, self.engine)

    # -- claims -------------------------------------------------------------------------------

    def claim(
        self,
        *,
        job: str,
        logical_date: str | date,
        channel: str,
        target: str,
        run_id: str,
        content_sha256: str,
        force: bool,
    ) -> Claim | None:
        """Insert the next attempt as 'sending' and return it; None when already sent (not forced)."""
        key = {"job": job, "logical_date": normalize_date(logical_date), "channel": channel, "target": target}
        try:
            with self.engine.begin() as conn:
                newest = self._newest(conn, key)
                if newest is not None and not force:
                    if newest.status == SENT:
                        return None
                    if newest.status == SENDING:
                        raise DeliveryStateUnknown(_unknown_message(newest))
                now = _now()
                values = {
                    **key,
                    "attempt": 1 if newest is None else newest.attempt + 1,
                    "status": SENDING,
                    "run_id": run_id,
                    "content_sha256": content_sha256,
                    "forced": force,
                    "created_at": now,
                    "updated_at": now,
                }
                row_id = conn.execute(sa.insert(_table).values(**values)).inserted_primary_key[0]
        except IntegrityError as exc:
            raise DeliveryConflict(
                f"Another worker claimed {channel} delivery to {target!r} for {job} "
                f"{key['logical_date']} at the same moment; it sends, this one does not."
            ) from exc
        return Claim(
            id=row_id,
            **key,
            attempt=values["attempt"],
            run_id=run_id,
            content_sha256=content_sha256,
            forced=force,
        )

    def _newest(self, conn: sa.Connection, key: dict[str, str]) -> DeliveryRecord | None:
        query = sa.select(_table).filter_by(**key).order_by(_table.c.attempt.desc()).limit(1)
        row = conn.execute(query).first()
        return _record(row) if row is not None else None

    def mark_sent(self, claim: Claim, receipt: dict[str, Any]) -> None:
        self._finish(claim, status=SENT, receipt=json.dumps(receipt, sort_keys=True, default=str))

    def mark_failed(self, claim: Claim, error: str) -> None:
        # Errors quote server replies and URLs; scrub here, at the one place they are stored.
        self._finish(claim, status=FAILED, error=scrub(error)[:MAX_ERROR_CHARS])

    def _finish(self, claim: Claim, *, status: str, **values: str) -> None:
        # One UPDATE, guarded on 'sending': a row finished twice is a bug, not a state to hide.
        query = (
            sa.update(_table)
            .where(_table.c.id == claim.id, _table.c.status == SENDING)
            .values(status=status, updated_at=_now(), **values)
        )
        with self.engine.begin() as conn:
            if conn.execute(query).rowcount != 1:
                raise DeliveryError(
                    f"Delivery row {claim.id} is no longer 'sending'; cannot mark it {status}"
                )

    # -- reading ------------------------------------------------------------------------------

    def history(
        self,
        *,
        job: str,
        logical_date: str | date,
        channel: str | None = None,
        target: str | None = None,
    ) -> list[DeliveryRecord]:
        """All attempts for a job's day, oldest first (optionally one channel and/or target)."""
        query = sa.select(_table).where(
            _table.c.job == job, _table.c.logical_date == normalize_date(logical_date)
        )
        if channel is not None:
            query = query.where(_table.c.channel == channel)
        if target is not None:
            query = query.where(_table.c.target == target)
        query = query.order_by(_table.c.channel, _table.c.target, _table.c.attempt)
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(query)]

    def last_receipt(
        self, *, job: str, logical_date: str | date, channel: str, target: str
    ) -> dict[str, Any] | None:
        """The receipt of the newest 'sent' attempt, or None."""
        sent = [
            r
            for r in self.history(job=job, logical_date=logical_date, channel=channel, target=target)
            if r.status == SENT
        ]
        return sent[-1].receipt if sent else None


def _unknown_message(row: DeliveryRecord) -> str:
    return (
        f"{row.channel} delivery to {row.target!r} for {row.job} {row.logical_date} is still marked "
        f"'sending' (attempt {row.attempt}, run {row.run_id!r}, since {row.updated_at.isoformat()}): "
        "a worker died between sending and recording, or is still sending. Check the target; if the "
        "digest did not arrive, trigger the run again with force_redeliver=true."
    )

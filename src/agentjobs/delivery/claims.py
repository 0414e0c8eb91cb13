"""The claims ledger: which window took which event, written once, in the ledger database.

A batching job (batch_notifications) must put every event in exactly one summary, even when a
run is killed and retried, cleared, or refetched. Two tables, created if missing beside the
delivery ledger:

    agentjobs_event_window  one row per (job, window): the window has claimed (maybe nothing)
    agentjobs_event_claim   one row per (job, event id): the window that took it, and the event's
                            row as the business database gave it (JSON)

Event ids are kept as text (jobs/record_ids.py): a company's events may be keyed by uuids or
strings, and `42` and `"42"` are one event. A claim table made by a release that stored ids as
integers is migrated to text the first time the ledger opens it, its claims kept.

`claim` runs one transaction: when the window's row exists it returns the window's own claims
(a retry sees exactly what the first try took); otherwise it inserts the window's row and a
claim for every candidate that no window of the job has, and returns those. The unique keys
make two racing claimers safe: the loser's transaction rolls back whole and it reads again.
The claimed rows are the snapshot itself, so a retry does not depend on the business database
still holding (or still holding the same) rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from agentjobs.jobs.record_ids import id_order, record_id
from agentjobs.sql_tables import create_tables

WINDOW_TABLE = "agentjobs_event_window"
CLAIM_TABLE = "agentjobs_event_claim"
ID_LENGTH = 250  # a uuid is 36; a composite text key may be longer
CHUNK = 500  # ids per IN (...): SQLite's bound-parameter limit is far above, PostgreSQL has none
ATTEMPTS = 3

_metadata = sa.MetaData()
_windows = sa.Table(
    WINDOW_TABLE,
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(250), nullable=False),
    sa.Column("window_key", sa.String(32), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("job", "window_key", name="uq_agentjobs_event_window"),
)
_claims = sa.Table(
    CLAIM_TABLE,
    _metadata,
    sa.Column("job", sa.String(250), primary_key=True),
    sa.Column("event_id", sa.String(ID_LENGTH), primary_key=True),  # an event is in one window of a job
    sa.Column("window_key", sa.String(32), nullable=False),
    sa.Column("row_json", sa.Text, nullable=False),
    sa.Index("ix_agentjobs_event_claim_window", "job", "window_key"),
)


class ClaimConflict(RuntimeError):
    """Other claimers kept winning the same rows; the task's retry claims again."""


class EventClaims:
    """Claims in the tables above (created if missing), on SQLite or PostgreSQL."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        create_tables(_metadata, engine)
        if _ids_are_integers(sa.inspect(engine)):
            _migrate_ids_to_text(engine)

    def claim(
        self, *, job: str, window: str, candidates: Sequence[dict[str, Any]], run_id: str
    ) -> list[dict[str, Any]]:
        """The events of `window`: its claim if it has one, else a new claim of the candidates no
        window of `job` has (by their `id`). Rows come back as given, in claim order."""
        for _ in range(ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    if self._has_window(conn, job, window):
                        return self._rows(conn, job, window)
                    taken = self._claimed_ids(conn, job, [record_id(c["id"]) for c in candidates])
                    fresh, seen = [], set(taken)
                    for row in candidates:
                        if record_id(row["id"]) not in seen:
                            seen.add(record_id(row["id"]))
                            fresh.append(row)
                    conn.execute(
                        _windows.insert().values(
                            job=job,
                            window_key=window,
                            run_id=run_id,
                            events=len(fresh),
                            claimed_at=datetime.now(UTC),
                        )
                    )
                    if fresh:
                        conn.execute(
                            _claims.insert(),
                            [
                                {
                                    "job": job,
                                    "event_id": record_id(r["id"]),
                                    "window_key": window,
                                    "row_json": _dump(r),
                                }
                                for r in fresh
                            ],
                        )
                    return [dict(r) for r in fresh]
            except IntegrityError:
                continue  # another claimer of this window or of one of its events won: read again
        raise ClaimConflict(f"{job} {window}: the claim kept conflicting with other runs; retry the task")

    def window_of(self, job: str, event_id: int | str) -> str | None:
        """The window that claimed `event_id`, if any."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(_claims.c.window_key).where(
                    _claims.c.job == job, _claims.c.event_id == record_id(event_id)
                )
            ).scalar()

    @staticmethod
    def _has_window(conn: sa.Connection, job: str, window: str) -> bool:
        query = sa.select(_windows.c.id).where(_windows.c.job == job, _windows.c.window_key == window)
        return conn.execute(query).first() is not None

    @staticmethod
    def _rows(conn: sa.Connection, job: str, window: str) -> list[dict[str, Any]]:
        query = sa.select(_claims.c.event_id, _claims.c.row_json).where(
            _claims.c.job == job, _claims.c.window_key == window
        )
        # In id order as a reader expects it: integer ids by number (9 before 10), not as text.
        found = sorted(conn.execute(query).all(), key=lambda r: id_order(r.event_id))
        return [json.loads(r.row_json) for r in found]

    @staticmethod
    def _claimed_ids(conn: sa.Connection, job: str, ids: list[str]) -> set[str]:
        taken: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            query = sa.select(_claims.c.event_id).where(_claims.c.job == job, _claims.c.event_id.in_(chunk))
            taken.update(conn.execute(query).scalars())
        return taken


def _ids_are_integers(inspector: sa.Inspector) -> bool:
    """Whether the claim table is a released one that kept event ids as integers."""
    if not inspector.has_table(CLAIM_TABLE):
        return False
    column = next(c for c in inspector.get_columns(CLAIM_TABLE) if c["name"] == "event_id")
    return isinstance(column["type"], sa.Integer)


def _migrate_ids_to_text(engine: sa.Engine) -> None:
    """Turn an integer `event_id` into text in place, keeping every claim (one transaction)."""
    with engine.begin() as conn:
        if not _ids_are_integers(sa.inspect(conn)):
            return  # another worker migrated it meanwhile
        if conn.dialect.name == "sqlite":
            # SQLite cannot change a column's type: the table is rebuilt, the rows copied over.
            old = f"{CLAIM_TABLE}_int_ids"
            conn.exec_driver_sql("DROP INDEX IF EXISTS ix_agentjobs_event_claim_window")
            conn.exec_driver_sql(f"ALTER TABLE {CLAIM_TABLE} RENAME TO {old}")
            _claims.create(conn)
            conn.exec_driver_sql(
                f"INSERT INTO {CLAIM_TABLE} (job, event_id, window_key, row_json) "
                f"SELECT job, CAST(event_id AS TEXT), window_key, row_json FROM {old}"
            )
            conn.exec_driver_sql(f"DROP TABLE {old}")
        else:
            conn.exec_driver_sql(
                f"ALTER TABLE {CLAIM_TABLE} ALTER COLUMN event_id TYPE VARCHAR({ID_LENGTH}) "
                "USING event_id::text"
            )


def _dump(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)

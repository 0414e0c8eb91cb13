"""The rate limiter's bucket in the ledger database, for deployments without Redis: one row per
model connection, read and written in one transaction that holds the row (SELECT … FOR UPDATE
on PostgreSQL) or the database (BEGIN IMMEDIATE on SQLite) until it commits, so two workers
never both take the last slot.

The clock is the worker's own (time.time()): hosts that share a database keep their clocks by
NTP, and a clock behind the row's is read as no time passed (rate_limiter.refill).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from agentjobs.agent.errors import TransientAgentError
from agentjobs.agent.rate_limiter import Bucket, Limits, adjust, full_bucket, take
from agentjobs.sql_tables import create_tables

TABLE = "agentjobs_rate_limit"

_metadata = sa.MetaData()
_buckets = sa.Table(
    TABLE,
    _metadata,
    sa.Column("conn_id", sa.String(250), primary_key=True),
    sa.Column("requests", sa.Float, nullable=False),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),  # seconds since the epoch
)


class SqlBucketStore:
    """The bucket of one connection in a SQLite or PostgreSQL database (the table is created)."""

    def __init__(self, engine: sa.Engine, conn_id: str, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.conn_id = conn_id
        self.clock = clock
        create_tables(_metadata, engine)

    def take(self, limits: Limits, tokens: float) -> float:
        def step(bucket: Bucket, now: float) -> tuple[Bucket, float]:
            return take(bucket, limits, now, tokens)

        return self._transaction(limits, step)

    def adjust(self, limits: Limits, tokens: float) -> None:
        self._transaction(limits, lambda bucket, now: (adjust(bucket, limits, now, tokens), 0.0))

    def _transaction(self, limits: Limits, step: Callable[[Bucket, float], tuple[Bucket, float]]) -> float:
        try:
            return self._run(limits, step)
        except sa.exc.OperationalError as exc:
            # A database that is down or locked too long: the task's retry may find it again.
            raise TransientAgentError(f"the rate limiter's ledger store failed: {exc.orig}") from exc

    def _run(self, limits: Limits, step: Callable[[Bucket, float], tuple[Bucket, float]]) -> float:
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as conn:
            if sqlite:
                # pysqlite opens its transaction lazily, at the first write: a plain SELECT would
                # let two workers read the same level. IMMEDIATE takes the write lock now.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            query = sa.select(_buckets).where(_buckets.c.conn_id == self.conn_id)
            row = conn.execute(query if sqlite else query.with_for_update()).first()
            now = self.clock()
            if row is None:
                bucket, wait = step(full_bucket(limits, now), now)
                if not self._insert(conn, bucket, sqlite):
                    # Another worker made the row between our SELECT and INSERT (PostgreSQL only:
                    # SQLite's lock excludes it): take from that row instead.
                    conn.rollback()
                    return self._run(limits, step)
            else:
                stored = Bucket(row.requests, row.tokens, row.updated)
                bucket, wait = step(stored, now)
                conn.execute(
                    _buckets.update()
                    .where(_buckets.c.conn_id == self.conn_id)
                    .values(requests=bucket.requests, tokens=bucket.tokens, updated=bucket.updated)
                )
            conn.commit()
        return wait

    def _insert(self, conn: sa.Connection, bucket: Bucket, sqlite: bool) -> bool:
        values = {
            "conn_id": self.conn_id,
            "requests": bucket.requests,
            "tokens": bucket.tokens,
            "updated": bucket.updated,
        }
        if sqlite:
            conn.execute(_buckets.insert().values(**values))
            return True
        from sqlalchemy.dialects.postgresql import insert

        # RETURNING, not rowcount: psycopg (3) reports -1 for this statement, which read as "another
        # worker made the row" every time and retried, a pooled connection deeper each time.
        statement = insert(_buckets).values(**values).on_conflict_do_nothing()
        return conn.execute(statement.returning(_buckets.c.conn_id)).first() is not None

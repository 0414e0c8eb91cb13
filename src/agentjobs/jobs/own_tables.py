"""agentjobs' own bookkeeping tables in a business database whose writes a spec maps
(jobs/writes.py): the reconciliation's ledger of judged records.

They hold the user's ids as text and have no foreign keys into the user's tables, so they fit
any schema. On PostgreSQL they live in a schema of their own (`sources.sql.own_schema`,
`agentjobs` unless the spec names another), created when missing; SQLite has no schemas, so
there they are tables of the same file. A spec that maps no write target keeps the sample
database's `processed_records` (business/schema.py), so existing sample databases keep working.
"""

from __future__ import annotations

import sqlalchemy as sa

OUTCOMES = "outcome IN ('linked', 'review', 'no_match', 'conflict', 'rejected')"


def ledger_table(schema: str | None) -> sa.Table:
    """processed_records as agentjobs keeps it beside the user's tables: no foreign keys."""
    return sa.Table(
        "processed_records",
        sa.MetaData(schema=schema),
        sa.Column("record_type", sa.Text, primary_key=True),  # e.g. 'receipt'
        sa.Column("record_id", sa.Text, primary_key=True),  # the user's id, as text (a uuid too)
        sa.Column("team_id", sa.Text, nullable=False),
        sa.Column("judged_for", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("transaction_id", sa.Text, nullable=True),
        sa.Column("confidence_permille", sa.Integer, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("processed_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(OUTCOMES, name="processed_records_outcome"),
    )


def own_schema(engine: sa.Engine, schema: str) -> str | None:
    """The schema agentjobs' tables use on this database: `schema` on PostgreSQL, none on SQLite."""
    return schema if engine.dialect.name == "postgresql" else None


def ensure_ledger(engine: sa.Engine, schema: str) -> sa.Table:
    """The ledger table on `engine`, created (with its schema on PostgreSQL) when missing."""
    table = ledger_table(own_schema(engine, schema))
    with engine.begin() as conn:
        if table.schema is not None:
            conn.execute(sa.schema.CreateSchema(table.schema, if_not_exists=True))
        table.create(conn, checkfirst=True)
    return table


def ensure_own_tables(engine: sa.Engine, kind: object, writes: object) -> None:
    """Before the first read: the tables agentjobs keeps for `kind` under the spec's `writes`
    (a jobs/writes.SpecWrites), so a mapped query may already name them (e.g. to leave out the
    receipts judged before). Nothing when the spec maps no target that keeps a ledger."""
    from agentjobs.jobs.writes import SpecWrites

    if isinstance(writes, SpecWrites) and writes.needs_ledger(kind):
        ensure_ledger(engine, writes.own_schema)

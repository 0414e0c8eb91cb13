"""agentjobs' own bookkeeping tables in a business database (jobs/writes.py): the
reconciliation's ledger of judged records (when a spec maps its writes), and the weekly insights'
records of what was sent (unless a spec maps them to a table of the user's).

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


def insight_records_table(schema: str | None) -> sa.Table:
    """What a weekly insights job sent: one row per insight of a team's week, written once when
    the week's delivery succeeded (jobs/insight_records.py). No foreign keys."""
    return sa.Table(
        "insight_records",
        sa.MetaData(schema=schema),
        sa.Column("job", sa.Text, primary_key=True),  # the job's dag_id: two jobs keep their own
        sa.Column("team_id", sa.Text, primary_key=True),
        sa.Column("week", sa.Text, primary_key=True),  # the period key: the week's last local day
        sa.Column("position", sa.Integer, primary_key=True),  # 1 for the first insight sent
        sa.Column("metric", sa.Text, nullable=True),  # None: a bullet about no single metric
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("numbers", sa.Text, nullable=False),  # JSON
        sa.Column("sha256", sa.Text, nullable=False),  # of the artifact delivered
        sa.Column("sent_at", sa.DateTime, nullable=False),  # naive UTC, like the sample's tables
    )


def own_schema(engine: sa.Engine, schema: str) -> str | None:
    """The schema agentjobs' tables use on this database: `schema` on PostgreSQL, none on SQLite."""
    return schema if engine.dialect.name == "postgresql" else None


def ensure_ledger(engine: sa.Engine, schema: str) -> sa.Table:
    """The ledger table on `engine`, created (with its schema on PostgreSQL) when missing."""
    return ensure_table(engine, ledger_table(own_schema(engine, schema)))


def ensure_insight_records(engine: sa.Engine, schema: str) -> sa.Table:
    """The insight records table on `engine`, created (with its schema on PostgreSQL) when missing."""
    return ensure_table(engine, insight_records_table(own_schema(engine, schema)))


def ensure_table(engine: sa.Engine, table: sa.Table) -> sa.Table:
    with engine.begin() as conn:
        if table.schema is not None:
            conn.execute(sa.schema.CreateSchema(table.schema, if_not_exists=True))
        table.create(conn, checkfirst=True)
    return table


def ensure_own_tables(engine: sa.Engine, kind: object, writes: object) -> None:
    """Before the first read: the tables agentjobs keeps for `kind` under the spec's `writes`
    (a jobs/writes.SpecWrites), so a mapped query may already name them (e.g. to leave out the
    receipts judged before), and a database agentjobs may not write to fails before the model.
    Nothing when the spec maps no target that keeps a ledger and the kind keeps no records
    (or keeps them in the user's table)."""
    from agentjobs.jobs.writes import SpecWrites, kind_writes

    if not isinstance(writes, SpecWrites):
        return
    if writes.needs_ledger(kind):
        ensure_ledger(engine, writes.own_schema)
    if any(t.name == "insight_records" and t.name not in writes.mapping for t in kind_writes(kind)):
        ensure_insight_records(engine, writes.own_schema)

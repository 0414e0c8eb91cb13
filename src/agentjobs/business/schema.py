"""The tables of the sample business database (SQLAlchemy Core), one DDL for SQLite and PostgreSQL.

Timestamps are naive UTC `DateTime` values; `Date` columns are local dates of the team.
Amounts are integer minor units (`amount_cents`; JPY has no minor unit, so its amounts are yen).
Only portable types are used (Text, Integer, DateTime, Date, Boolean), so `create_all` emits
the same tables on both databases and a query reads the same rows from either.
"""

from __future__ import annotations

import sqlalchemy as sa

# The category values live apart from the tables (the kinds check specs against them at parse).
from agentjobs.business.categories import EVENT_CATEGORIES as EVENT_CATEGORIES
from agentjobs.business.categories import EXPENSE_CATEGORIES as EXPENSE_CATEGORIES
from agentjobs.business.categories import INCOME_CATEGORIES as INCOME_CATEGORIES

metadata = sa.MetaData()


def _team_fk() -> sa.Column[str]:
    return sa.Column("team_id", sa.Text, sa.ForeignKey("teams.id"), nullable=False)


teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("timezone", sa.Text, nullable=False),  # IANA name
    sa.Column("currency", sa.Text, nullable=False),  # ISO 4217
    sa.Column("slack_channel", sa.Text, nullable=True),
    sa.Column("email_list", sa.Text, nullable=True),  # comma-separated addresses
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    _team_fk(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("timezone", sa.Text, nullable=False),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    _team_fk(),
    sa.Column("name", sa.Text, nullable=False),
    # Written once by the `enrichment` job (jobs/kinds/enrichment.py), NULL until then; the job
    # writes a row only while `enriched_at` is NULL, so a record is never enriched twice.
    sa.Column("industry", sa.Text, nullable=True),
    sa.Column("country", sa.Text, nullable=True),  # ISO 3166-1 alpha-2
    sa.Column("employee_count", sa.Integer, nullable=True),
    sa.Column("website", sa.Text, nullable=True),
    sa.Column("enriched_at", sa.DateTime, nullable=True),
    sa.Column("enrichment_source", sa.Text, nullable=True),  # the URL the values came from
)

vendors = sa.Table(
    "vendors",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    _team_fk(),
    sa.Column("name", sa.Text, nullable=False),
)

transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    _team_fk(),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("vendor_id", sa.Text, sa.ForeignKey("vendors.id"), nullable=True),
    sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.CheckConstraint("amount_cents > 0", name="transactions_amount_positive"),
    sa.CheckConstraint("kind IN ('income', 'expense')", name="transactions_kind"),
    sa.Index("ix_transactions_team_occurred", "team_id", "occurred_at"),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    _team_fk(),
    sa.Column("placed_at", sa.DateTime, nullable=False),
    sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.CheckConstraint("status IN ('placed', 'cancelled')", name="orders_status"),
    sa.Index("ix_orders_team_placed", "team_id", "placed_at"),
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    _team_fk(),
    sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("owner_user_id", sa.Text, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("number", sa.Text, nullable=False),
    sa.Column("issued_on", sa.Date, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("paid_at", sa.DateTime, nullable=True),
    sa.Column("recurring", sa.Boolean, nullable=False),
    sa.Column("recurrence", sa.Text, nullable=True),  # 'monthly' for recurring invoices
    sa.CheckConstraint("status IN ('paid', 'unpaid')", name="invoices_status"),
    sa.Index("ix_invoices_team_due", "team_id", "due_on"),
)

receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    _team_fk(),
    sa.Column("vendor_id", sa.Text, sa.ForeignKey("vendors.id"), nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("transaction_id", sa.Text, sa.ForeignKey("transactions.id"), nullable=True),
)

events = sa.Table(
    "events",
    metadata,
    # Ids are assigned by the generator; no SERIAL on PostgreSQL, so both databases get the same DDL.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    _team_fk(),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("record_id", sa.Text, nullable=False),
    sa.Index("ix_events_team_occurred", "team_id", "occurred_at"),
)

# The ledger of records a job has judged (the reconciliation's receipts): one row per record,
# written in the same transaction as the record's link, so a retry, clear or backfill never
# judges or links a record twice. Empty in the generated sample; the jobs fill it.
processed_records = sa.Table(
    "processed_records",
    metadata,
    sa.Column("record_type", sa.Text, primary_key=True),  # e.g. 'receipt'
    sa.Column("record_id", sa.Text, primary_key=True),
    _team_fk(),
    sa.Column("judged_for", sa.Text, nullable=False),  # the run's period key (YYYY-MM-DD), or who reviewed it
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("transaction_id", sa.Text, sa.ForeignKey("transactions.id"), nullable=True),
    sa.Column("confidence_permille", sa.Integer, nullable=True),  # the model's, 0..1000
    sa.Column("note", sa.Text, nullable=False),  # why: the rule or reason, for the person reading it
    sa.Column("processed_at", sa.DateTime, nullable=False),
    sa.CheckConstraint(
        "outcome IN ('linked', 'review', 'no_match', 'conflict', 'rejected')",
        name="processed_records_outcome",
    ),
)


# Parents before children: the order rows are inserted in (and deleted in reverse).
TABLES: tuple[sa.Table, ...] = tuple(metadata.sorted_tables)

"""The tables of the Ledgerly schema (SQLAlchemy Core), for PostgreSQL only.

Shaped like a product's, not like the kinds' queries: ids are uuids, instants are `timestamptz`,
amounts are signed `bigint` minor units of the row's currency (JPY has 0 decimals, KWD 3), a
transaction belongs to a bank account (the workspace is reached through it), links are rows of
link tables (document_links, payment_allocations), and enrichment lives in a side table
(customer_facts) rather than in columns of customers. The tables carry no schema name: the
loader renders them into `ledgerly` (or any schema it is given).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

SCHEMA = "ledgerly"

metadata = sa.MetaData()

# What a transaction is, as the bank feed labels it. A refund is income that reverses an earlier
# payment (refund_of), a transfer is one of two legs between a workspace's own accounts.
TRANSACTION_TYPES = ("card_payment", "direct_debit", "incoming", "refund", "transfer", "fee")
INVOICE_STATUSES = ("draft", "open", "paid", "void")
OCR_STATUSES = ("parsed", "partial", "failed")
ORDER_STATES = ("placed", "cancelled", "refunded")
# activity_log.action values; the sample's event categories map onto them (see the report/specs).
ACTIONS = (
    "transaction.imported",
    "document.matched",
    "invoice.paid",
    "invoice.overdue",
    "invoice.upcoming",
    "payment.received",
)

TZ = sa.DateTime(timezone=True)


def _uuid_pk() -> sa.Column[object]:
    return sa.Column("id", pg.UUID(as_uuid=False), primary_key=True)


def _workspace_fk() -> sa.Column[object]:
    return sa.Column("workspace_id", pg.UUID(as_uuid=False), sa.ForeignKey("workspaces.id"), nullable=False)


def _uuid_fk(name: str, target: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, pg.UUID(as_uuid=False), sa.ForeignKey(target), nullable=nullable)


workspaces = sa.Table(
    "workspaces",
    metadata,
    _uuid_pk(),
    sa.Column("slug", sa.Text, nullable=False, unique=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("timezone", sa.Text, nullable=False),  # IANA name
    sa.Column("base_currency", sa.String(3), nullable=False),  # ISO 4217
    sa.Column("billing_email", sa.Text, nullable=True),
    sa.Column("created_at", TZ, nullable=False),
)

workspace_members = sa.Table(
    "workspace_members",
    metadata,
    _uuid_pk(),
    _workspace_fk(),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=True),  # invited by link, never gave one
    sa.Column("timezone", sa.Text, nullable=True),  # NULL: the workspace's applies
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("joined_at", TZ, nullable=False),
    sa.CheckConstraint("role IN ('owner', 'admin', 'accountant', 'member')", name="members_role"),
)

bank_accounts = sa.Table(
    "bank_accounts",
    metadata,
    _uuid_pk(),
    _workspace_fk(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("iban", sa.Text, nullable=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("opened_on", sa.Date, nullable=False),
)

transactions = sa.Table(
    "transactions",
    metadata,
    _uuid_pk(),
    _uuid_fk("account_id", "bank_accounts.id"),
    sa.Column("booked_at", TZ, nullable=False),
    sa.Column("value_date", sa.Date, nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),  # signed: < 0 money out
    sa.Column("currency", sa.String(3), nullable=False),  # the account's
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("counterparty", sa.Text, nullable=True),  # as the bank wrote it; NULL for fees
    sa.Column("category", sa.Text, nullable=True),  # NULL: not categorised yet
    sa.Column("reference", sa.Text, nullable=True),  # the bank's free text
    _uuid_fk("refund_of", "transactions.id", nullable=True),
    sa.Column("transfer_group", pg.UUID(as_uuid=False), nullable=True),  # the two legs share it
    sa.CheckConstraint("amount_minor <> 0", name="transactions_amount_nonzero"),
    sa.CheckConstraint(
        "type IN ('card_payment', 'direct_debit', 'incoming', 'refund', 'transfer', 'fee')",
        name="transactions_type",
    ),
    sa.Index("ix_transactions_account_booked", "account_id", "booked_at"),
)

inbox_documents = sa.Table(
    "inbox_documents",
    metadata,
    _uuid_pk(),
    _workspace_fk(),
    sa.Column("uploaded_at", TZ, nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # 'email' | 'upload' | 'mobile'
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("ocr_status", sa.Text, nullable=False),
    sa.Column("vendor_text", sa.Text, nullable=True),  # as OCR read it
    sa.Column("document_date", sa.Date, nullable=True),
    sa.Column("amount_minor", sa.BigInteger, nullable=True),  # positive, as printed
    sa.Column("currency", sa.String(3), nullable=True),
    sa.CheckConstraint("ocr_status IN ('parsed', 'partial', 'failed')", name="documents_ocr_status"),
    sa.Index("ix_documents_workspace_uploaded", "workspace_id", "uploaded_at"),
)

document_links = sa.Table(
    "document_links",
    metadata,
    _uuid_fk("document_id", "inbox_documents.id"),
    _uuid_fk("transaction_id", "transactions.id"),
    sa.Column("linked_at", TZ, nullable=False),
    sa.Column("linked_by", sa.Text, nullable=False),  # 'auto' | a member's id
    sa.PrimaryKeyConstraint("document_id", name="document_links_pk"),
)

customers = sa.Table(
    "customers",
    metadata,
    _uuid_pk(),
    _workspace_fk(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("contact_name", sa.Text, nullable=True),  # personal
    sa.Column("email", sa.Text, nullable=True),  # personal
    sa.Column("phone", sa.Text, nullable=True),  # personal
    sa.Column("iban", sa.Text, nullable=True),  # personal
    sa.Column("notes", sa.Text, nullable=True),  # free text: personal data, and hostile text
    sa.Column("created_at", TZ, nullable=False),
)

customer_facts = sa.Table(
    "customer_facts",
    metadata,
    _uuid_fk("customer_id", "customers.id"),
    sa.Column("industry", sa.Text, nullable=True),
    sa.Column("country", sa.String(2), nullable=True),
    sa.Column("employee_count", sa.Integer, nullable=True),
    sa.Column("website", sa.Text, nullable=True),
    sa.Column("source_url", sa.Text, nullable=False),
    sa.Column("fetched_at", TZ, nullable=False),
    sa.PrimaryKeyConstraint("customer_id", name="customer_facts_pk"),
)

invoices = sa.Table(
    "invoices",
    metadata,
    _uuid_pk(),
    _workspace_fk(),
    _uuid_fk("customer_id", "customers.id"),
    _uuid_fk("created_by", "workspace_members.id"),
    sa.Column("number", sa.Text, nullable=True),  # assigned when issued; drafts have none
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("issued_on", sa.Date, nullable=True),
    sa.Column("due_on", sa.Date, nullable=True),
    sa.Column("voided_at", TZ, nullable=True),
    sa.Column("schedule", sa.Text, nullable=True),  # 'monthly' for a recurring invoice's series
    sa.CheckConstraint("status IN ('draft', 'open', 'paid', 'void')", name="invoices_status"),
    sa.CheckConstraint("status = 'draft' OR (issued_on IS NOT NULL AND due_on IS NOT NULL)", name="issued"),
    sa.Index("ix_invoices_workspace_due", "workspace_id", "due_on"),
)

invoice_lines = sa.Table(
    "invoice_lines",
    metadata,
    _uuid_fk("invoice_id", "invoices.id"),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_minor", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("invoice_id", "position", name="invoice_lines_pk"),
)

incoming_payments = sa.Table(
    "incoming_payments",
    metadata,
    _uuid_pk(),
    _workspace_fk(),
    _uuid_fk("account_id", "bank_accounts.id"),
    sa.Column("received_at", TZ, nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("payer_name", sa.Text, nullable=True),
    sa.Column("reference", sa.Text, nullable=True),  # what the payer typed: a number, or not
    sa.CheckConstraint("amount_minor > 0", name="payments_amount_positive"),
)

payment_allocations = sa.Table(
    "payment_allocations",
    metadata,
    _uuid_fk("payment_id", "incoming_payments.id"),
    _uuid_fk("invoice_id", "invoices.id"),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("allocated_at", TZ, nullable=False),
    sa.PrimaryKeyConstraint("payment_id", "invoice_id", name="payment_allocations_pk"),
)

shop_orders = sa.Table(
    "shop_orders",
    metadata,
    _uuid_pk(),
    _workspace_fk(),
    sa.Column("external_ref", sa.Text, nullable=False),  # the shop's own order number
    sa.Column("placed_at", TZ, nullable=False),
    _uuid_fk("customer_id", "customers.id", nullable=True),  # guest checkouts have none
    sa.Column("total_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.CheckConstraint("state IN ('placed', 'cancelled', 'refunded')", name="orders_state"),
    sa.Index("ix_orders_workspace_placed", "workspace_id", "placed_at"),
)

activity_log = sa.Table(
    "activity_log",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    _workspace_fk(),
    sa.Column("occurred_at", TZ, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("subject_type", sa.Text, nullable=False),  # 'transaction' | 'document' | 'invoice' | 'payment'
    sa.Column("subject_id", pg.UUID(as_uuid=False), nullable=False),
    sa.Index("ix_activity_workspace_occurred", "workspace_id", "occurred_at"),
)

# Parents before children: the order rows are inserted in (and deleted in reverse).
TABLES: tuple[sa.Table, ...] = tuple(metadata.sorted_tables)

"""The category values of the sample business database, without its tables.

A module of its own so the batch_notifications kind can check a spec's event categories
without importing SQLAlchemy's table definitions (business/schema.py) into every DAG parse.
"""

from __future__ import annotations

EXPENSE_CATEGORIES = ("software", "travel", "office", "marketing", "utilities", "contractors")
INCOME_CATEGORIES = ("sales", "services")
EVENT_CATEGORIES = (
    "receipt_matched",
    "document_matched",
    "transaction_created",
    "invoice_paid",
    "invoice_overdue",
    "recurring_invoice_upcoming",
)

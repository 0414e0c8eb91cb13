"""What the `reconciliation` kind writes (its `writes`, jobs/writes.py), declared apart from the
write itself: the kind names it when a DAG is parsed, and reconcile_write (the write, with its
tables and SQL) loads only when a task writes."""

from __future__ import annotations

from agentjobs.jobs.writes import WriteColumn, WriteTarget

AUTO = "agentjobs"  # `linked_by` of a link the run wrote on its own

LINKS = WriteTarget(
    "links",
    "one row per receipt linked to the transaction it pays (a receipt once, a transaction once)",
    (
        WriteColumn("receipt_id", "text", "the receipt's id, as the receipts input reads it", required=True),
        WriteColumn("transaction_id", "text", "the id of the transaction it pays", required=True),
        WriteColumn("confidence", "decimal", "the model's confidence, 0 to 1"),
        WriteColumn("linked_at", "timestamp", "when the link was written (UTC)"),
        WriteColumn("linked_by", "text", f"who linked it: {AUTO!r} (the run) or the reviewer's name"),
    ),
    unique=("receipt_id", "transaction_id"),
    ledger=True,
)

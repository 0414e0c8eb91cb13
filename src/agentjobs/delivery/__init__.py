"""Delivery of a run's markdown artifact by email, Slack and S3, behind one idempotency ledger.

    ledger = DeliveryLedger.from_conn_id("agentjobs_ledger")
    outcome = deliver(
        ledger=ledger, job=dag_id, logical_date="2026-11-24", run_id=run_id,
        channel="s3", target="s3://bucket/digests", artifact=work_dir / "digest.md", force=False,
        send=lambda: send_s3(aws_conn_id="aws_default", bucket="bucket", prefix="digests",
                             dag_id=dag_id, logical_date="2026-11-24", artifact=...),
    )

The senders import their provider hooks when called, so importing this package stays cheap.
"""

from __future__ import annotations

from agentjobs.delivery.deliver import DeliveryOutcome, deliver, sha256_file
from agentjobs.delivery.email import send_email
from agentjobs.delivery.ledger import (
    Claim,
    DeliveryConflict,
    DeliveryError,
    DeliveryLedger,
    DeliveryRecord,
    DeliveryStateUnknown,
)
from agentjobs.delivery.s3 import digest_key, send_s3
from agentjobs.delivery.slack import send_slack

__all__ = [
    "Claim",
    "DeliveryConflict",
    "DeliveryError",
    "DeliveryLedger",
    "DeliveryOutcome",
    "DeliveryRecord",
    "DeliveryStateUnknown",
    "deliver",
    "digest_key",
    "send_email",
    "send_s3",
    "send_slack",
    "sha256_file",
]

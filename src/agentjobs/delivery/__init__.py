"""A run's markdown artifact by email, Slack, S3 or webhook (channels/), behind one idempotency ledger.

    ledger = DeliveryLedger.from_conn_id("agentjobs_ledger")
    outcome = deliver(
        ledger=ledger, job=dag_id, logical_date="2026-11-24", run_id=run_id,
        channel="s3", target="s3://bucket/digests", artifact=work_dir / "digest.md", force=False,
        send=lambda: send_s3(aws_conn_id="aws_default", bucket="bucket", prefix="digests",
                             dag_id=dag_id, logical_date="2026-11-24", artifact=...),
    )

Importing this package stays cheap: each name below is imported from its module when it is
first used (PEP 562), so parsing a DAG file whose operators deliver loads neither the
markdown renderer of email nor Slack's blocks; the senders import their provider hooks when
called.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Imported at once: the function `deliver` must shadow its own module's name in this package.
from agentjobs.delivery.deliver import DeliveryOutcome, deliver, ledger_for, sha256_file

if TYPE_CHECKING:
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

# name -> the module of this package that defines it
_MODULE_OF = {
    "send_email": "email",
    "Claim": "ledger",
    "DeliveryConflict": "ledger",
    "DeliveryError": "ledger",
    "DeliveryLedger": "ledger",
    "DeliveryRecord": "ledger",
    "DeliveryStateUnknown": "ledger",
    "digest_key": "s3",
    "send_s3": "s3",
    "send_slack": "slack",
}

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
    "ledger_for",
    "send_email",
    "send_s3",
    "send_slack",
    "sha256_file",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)

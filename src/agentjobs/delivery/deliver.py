"""deliver(): the one place that claims a delivery, sends it and records the result."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from agentjobs.lazy_pattern import lazy

if TYPE_CHECKING:
    # At run time only (in _skipped): the DAG processor imports this module with the operators
    # that deliver on every parse, and the ledger builds its SQLAlchemy table when imported.
    from agentjobs.delivery.ledger import DeliveryLedger

log = logging.getLogger(__name__)

# A Slack incoming-webhook URL is its own credential, and HTTP errors may quote it.
_WEBHOOK_PATH = lazy(r"/services/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+")


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class DeliveryOutcome(NamedTuple):
    delivered: bool
    attempt: int | None  # the attempt sent now, or the one already sent when skipped
    receipt: dict[str, Any] | None
    message: str


def ledger_for(conn_id: str | None, job: str | None = None) -> DeliveryLedger:
    """The delivery ledger in the database of connection `conn_id` (DeliveryLedger.from_conn_id);
    `job` names the job about to deliver through it, which refuses a ledger that can split.

    The operators that deliver call this rather than import the ledger: the DAG processor
    imports them on every parse of the jobs DAG file, and the ledger module builds its
    SQLAlchemy table when imported, which only a running task needs.
    """
    from agentjobs.delivery.ledger import DeliveryLedger

    return DeliveryLedger.from_conn_id(conn_id, job)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def deliver(
    *,
    ledger: DeliveryLedger,
    job: str,
    logical_date: str | date,
    run_id: str,
    channel: str,
    target: str,
    artifact: Path,
    force: bool,
    send: Callable[[], dict[str, Any]],
) -> DeliveryOutcome:
    """Send `artifact` once per (job, logical_date, channel, target), unless `force`.

    Raises DeliveryStateUnknown when an earlier attempt never got recorded, DeliveryConflict
    when another worker claimed the same delivery at the same moment, and whatever `send`
    raised (after marking the attempt failed, so a later try may deliver).
    """
    digest = sha256_file(artifact)
    key = {"job": job, "logical_date": logical_date, "channel": channel, "target": target}
    claim = ledger.claim(**key, run_id=run_id, content_sha256=digest, force=force)
    if claim is None:
        return _skipped(ledger, key, digest)

    try:
        receipt = send()
    except Exception as exc:
        # Only Exception: a task timeout or SIGTERM (BaseException in Airflow) may strike after
        # the target got the message, so that row stays 'sending' and the next claim says so.
        ledger.mark_failed(claim, _WEBHOOK_PATH.sub("/services/***", f"{type(exc).__name__}: {exc}"))
        raise
    # If this write fails the row stays 'sending', which is the truth the next claim reports.
    ledger.mark_sent(claim, receipt)
    how = "forced re-delivery" if force and claim.attempt > 1 else "delivered"
    message = f"{how}: {channel} → {target!r}, attempt {claim.attempt} (receipt {receipt})"
    log.info(message)
    return DeliveryOutcome(delivered=True, attempt=claim.attempt, receipt=receipt, message=message)


def _skipped(ledger: DeliveryLedger, key: dict[str, Any], digest: str) -> DeliveryOutcome:
    from agentjobs.delivery.ledger import SENT

    sent = [r for r in ledger.history(**key) if r.status == SENT][-1]
    message = (
        f"skipped: already delivered at {sent.updated_at.isoformat()} "
        f"(attempt {sent.attempt}, run {sent.run_id!r}, receipt {sent.receipt})"
    )
    if sent.content_sha256 != digest:
        message += "; the artifact changed since, trigger with force_redeliver=true to send the new one"
    else:
        message += "; trigger with force_redeliver=true to send it again"
    log.info(message)
    return DeliveryOutcome(delivered=False, attempt=sent.attempt, receipt=sent.receipt, message=message)

"""A rerun of a day already delivered keeps the digest that was sent.

Clearing a delivered run (or re-delivering it) must neither spend on the model nor leave on
disk a digest.md that no longer matches what the readers got. So the summarize task keeps
its RESULT beside digest.md, and when the ledger shows the day delivered with exactly the
file on disk, it stands on those two instead of asking the model again. The `resummarize`
Param (or `refetch`, which asks for new input) summarizes anyway.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from agentjobs.atomic_file import write_atomically
from agentjobs.delivery.deliver import sha256_file
from agentjobs.jobs.artifacts import DIGEST_FILE
from agentjobs.jobs.spec import JobSpec

RESULT_FILE = "result.json"


def write_result(work_dir: Path, result: dict[str, Any]) -> None:
    write_atomically(work_dir / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True))


def delivered_result(
    spec: JobSpec,
    day: str,
    work_dir: Path,
    params: Any,
    log: logging.Logger,
    *,
    artifact_file: str = DIGEST_FILE,
    delivers: bool | None = None,
    job: str | None = None,
) -> dict[str, Any] | None:
    """The RESULT of the artifact delivered for `day` (the ledger's logical_date), if the run
    should keep it; else None. `delivers` False: the job never delivers, so always summarize."""
    if not (spec.channels if delivers is None else delivers):
        return None  # nothing is ever delivered (e.g. `agentjobs digest`): always summarize
    if params.get("resummarize", False) or params.get("refetch", False):
        log.info("Asked to summarize again (resummarize or refetch): the model is called")
        return None
    # Imported when a task asks, not with the module: each parse of the jobs DAG file imports
    # this module, and the ledger builds its SQLAlchemy table when imported.
    from agentjobs.delivery.ledger import SENT, DeliveryLedger

    sent = [
        r
        for r in DeliveryLedger.from_conn_id(spec.ledger_conn_id).history(
            job=job or spec.dag_id, logical_date=day
        )
        if r.status == SENT
    ]
    if not sent:
        return None
    digest, result = work_dir / artifact_file, work_dir / RESULT_FILE
    if not digest.is_file() or not result.is_file():
        log.warning("%s was delivered, but %s or %s is gone: summarizing again", day, digest, result)
        return None
    if sha256_file(digest) not in {r.content_sha256 for r in sent}:
        log.warning("%s differs from every digest delivered for %s: summarizing again", digest, day)
        return None
    channels = sorted({r.channel for r in sent})
    log.info(
        "%s was delivered for %s (%s): keeping it as sent, without a model call "
        "(trigger with resummarize=true to ask the model again)",
        digest,
        day,
        ", ".join(channels),
    )
    loaded = json.loads(result.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else None

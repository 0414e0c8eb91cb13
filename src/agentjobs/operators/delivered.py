"""A rerun of a period already done keeps the artifact it was done with, without the model.

Clearing a delivered run (or re-delivering it) must neither spend on the model nor leave on
disk an artifact that no longer matches what the readers got. So the summarize task keeps
its RESULT beside the artifact (`result.json`), and when the period is done with exactly the
file on disk, it stands on those two instead of asking the model again. The `resummarize`
Param (or `refetch`, which asks for new input) summarizes anyway.

"Done" is, for the digest, delivered: a 'sent' row of the delivery ledger for the day whose
sha256 is the file's. A team of a fan-out job is done by the first of these that holds:

- **delivered**: as the digest, under the team's ledger key;
- **applied**: the kind writes (the apply task) and its writes of this artifact committed;
- **nowhere to deliver**: the deliver task had no target for the team (no channel, list or
  member address, or no connection to send with) and so nothing to send of this artifact.

The last two are vouched for by `done.json` beside the artifact, written by the apply and
deliver tasks: the artifact's name, the sha256 the validate task computed, and a sha256 of the
validated RESULT. It is honoured only while the artifact on disk and result.json are exactly
those, so a summary edited or replaced since (a `resummarize` whose answer failed apply) is
summarized again. Why these rules keep "never deliver twice, never pay twice":

- A team whose writes were applied keeps the answer they were applied from. Asking again would
  pay again and could only hurt: a different answer proposes other writes, which apply refuses
  (the records are judged already), and the summary delivered later (say after an SMTP outage)
  would describe writes that were never made. The kept one describes the ones that were.
- A team with nowhere to deliver and nothing to write has a validated artifact nobody got; a
  second one of the same snapshot would cost a model call and tell nobody anything new. When
  the team gains an address, the kept (validated, same snapshot) artifact is what it gets,
  through the ledger, once.
- A team whose delivery failed and whose kind writes nothing is not done: it is summarized
  again, as before (nobody got the first summary, and no write depends on it).

Losing done.json (or a worker dying between the commit and writing it) only costs one model
call: the writes are idempotent (the apply task) and deliveries go through the ledger.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from agentjobs.atomic_file import write_atomically
from agentjobs.delivery.deliver import sha256_file
from agentjobs.jobs.artifacts import DIGEST_FILE, DONE_FILE
from agentjobs.jobs.spec import JobSpec

RESULT_FILE = "result.json"
DELIVERED, APPLIED, NOWHERE = "delivered", "applied", "nowhere to deliver"
Kept = tuple[dict[str, Any], str]  # (RESULT, how its period was done)


def write_result(work_dir: Path, result: dict[str, Any]) -> None:
    write_atomically(work_dir / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True))


def result_sha256(result: dict[str, Any]) -> str:
    """A RESULT's digest, the same for the dict validate handed on and for result.json read back."""
    return hashlib.sha256(json.dumps(result, sort_keys=True).encode("utf-8")).hexdigest()


def write_done(work_dir: Path, validated: dict[str, Any], how: str) -> None:
    """Vouch beside the artifact that the team's period is done (`how`: APPLIED or NOWHERE) with
    the artifact and RESULT of `validated` (a validate task's XCom: artifact, sha256, result)."""
    record = {
        "artifact": Path(validated["artifact"]).name,
        "sha256": validated["sha256"],
        "result_sha256": result_sha256(validated["result"]),
        "done": how,
    }
    write_atomically(work_dir / DONE_FILE, json.dumps(record, indent=2, sort_keys=True))


def asked_again(params: Any, log: logging.Logger) -> bool:
    if params.get("resummarize", False) or params.get("refetch", False):
        log.info("Asked to summarize again (resummarize or refetch): the model is called")
        return True
    return False


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
    if asked_again(params, log):
        return None
    return _sent_result(spec, day, work_dir, log, artifact_file, job or spec.dag_id)


def kept_team_result(
    spec: JobSpec,
    day: str,
    work_dir: Path,
    params: Any,
    log: logging.Logger,
    *,
    artifact_file: str,
    job: str,
) -> Kept | None:
    """(RESULT, how it was done: DELIVERED, APPLIED or NOWHERE) of a team's period done with the
    artifact on disk, if the run should keep it; else None (see the module's rules)."""
    if asked_again(params, log):
        return None
    done = _done_result(work_dir, artifact_file, log)
    if done is not None:
        return done
    sent = _sent_result(spec, day, work_dir, log, artifact_file, job)
    return None if sent is None else (sent, DELIVERED)


def _sent_result(
    spec: JobSpec, day: str, work_dir: Path, log: logging.Logger, artifact_file: str, job: str
) -> dict[str, Any] | None:
    # Imported when a task asks, not with the module: each parse of the jobs DAG file imports
    # this module, and the ledger builds its SQLAlchemy table when imported.
    from agentjobs.delivery.ledger import SENT, DeliveryLedger

    sent = [
        r
        for r in DeliveryLedger.from_conn_id(spec.ledger_conn_id).history(job=job, logical_date=day)
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


def _done_result(work_dir: Path, artifact_file: str, log: logging.Logger) -> Kept | None:
    """The RESULT done.json vouches for, while the artifact and result.json are the ones validated."""
    marker, artifact, result = work_dir / DONE_FILE, work_dir / artifact_file, work_dir / RESULT_FILE
    if not marker.is_file():
        return None
    try:
        done = json.loads(marker.read_text(encoding="utf-8"))
    except ValueError:
        log.warning("%s is not JSON: not standing on it", marker)
        return None
    if not isinstance(done, dict) or done.get("artifact") != artifact_file:
        return None  # it vouches for another file
    how = done.get("done")
    if how not in (APPLIED, NOWHERE):
        return None
    if not artifact.is_file() or not result.is_file():
        log.warning("%s says %s, but %s or %s is gone: summarizing again", marker, how, artifact, result)
        return None
    if sha256_file(artifact) != done.get("sha256"):
        log.warning("%s is not the file validated when it was %s: summarizing again", artifact, how)
        return None
    try:
        loaded = json.loads(result.read_text(encoding="utf-8"))
    except ValueError:
        loaded = None
    if not isinstance(loaded, dict) or result_sha256(loaded) != done.get("result_sha256"):
        log.warning("%s is not the RESULT validated with %s: summarizing again", result, artifact)
        return None
    log.info(
        "%s was validated and %s: keeping it, without a model call "
        "(trigger with resummarize=true to ask the model again)",
        artifact,
        "its writes applied" if how == APPLIED else "had nowhere to be delivered",
    )
    return loaded, how

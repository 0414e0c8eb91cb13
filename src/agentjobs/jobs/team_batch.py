"""What a team's folder keeps of its batch (`mode: batch`): the submission and the answer.

`batch.json` says which batch carries the team's request (its id, the input file, the team's
custom_id and the request's sha256), written as soon as the batch is created, so a retry or a clear of the run
waits on that batch instead of paying for another. `batch-answer.json` is the team's line of
the finished batch: answered (the chat completion), failed (why) or missing (the batch ended
before reaching it), or not_sent (the endpoint took no batch: no Batch API there); the summarize
task takes an answer as its own and asks online otherwise.

Domain code (no Airflow): the batch task and the summarize task read the same files here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from agentjobs.atomic_file import write_atomically

SUBMISSION_FILE = "batch.json"
ANSWER_FILE = "batch-answer.json"
Outcome = Literal["answered", "failed", "missing", "not_sent"]
NOT_SENT = "not sent"  # the batch_status of a team no batch carried (its batch_id is "")


@dataclass(frozen=True)
class Submission:
    batch_id: str
    input_file_id: str
    custom_id: str
    request_sha256: str  # the request sent: a changed one (a refetch) is sent again


@dataclass(frozen=True)
class TeamAnswer:
    batch_id: str
    batch_status: str  # the batch's final status: completed, expired, failed, cancelled
    outcome: Outcome
    completion: dict[str, Any] | None = None  # the chat completion, when answered
    error: str | None = None  # why not, when failed or missing


def write_submission(work_dir: Path, submission: Submission) -> None:
    write_atomically(work_dir / SUBMISSION_FILE, json.dumps(asdict(submission), indent=1))


def read_submission(work_dir: Path) -> Submission | None:
    data = _read(work_dir / SUBMISSION_FILE)
    try:
        return None if data is None else Submission(**data)
    except TypeError:
        return None  # not ours: submitted again rather than waited on by a guess


def write_answer(work_dir: Path, answer: TeamAnswer) -> None:
    write_atomically(work_dir / ANSWER_FILE, json.dumps(asdict(answer), indent=1))


def read_answer(work_dir: Path) -> TeamAnswer | None:
    data = _read(work_dir / ANSWER_FILE)
    try:
        return None if data is None else TeamAnswer(**data)
    except TypeError:
        return None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None

"""The Batch API's files and batches endpoints, for the scripted model server (model_server.py).

Uploads (`POST /v1/files`, multipart, purpose "batch") are kept; `POST /v1/batches` starts a
batch on one; each `GET /v1/batches/{id}` reports the batch's current status, then moves it one
step along its script (default validating → in_progress → completed). When it reaches its final
status, every input line is answered by the test's `answer` function: a Step built by
model_server's builders (`reply(...)` → an output line; `error(...)` → an error-file line), or
None to leave the line out of both files (a partial result). An expired batch writes the lines
not answered to the error file with code `batch_expired`, as OpenAI's does; a failed one
(validation) writes no files and reports its errors on the batch.

`refuse` scripts an endpoint without a (working) Batch API: {"files": error(404, ...)} answers
every upload so, as the embedded llama.cpp server does; {"batches": ...} every create.
"""

from __future__ import annotations

import email.parser
import itertools
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.model_server import RecordedRequest, Step

Answer = Callable[[str, dict[str, Any]], "Step | None"]
COMPLETED = ("validating", "in_progress", "finalizing", "completed")
EXPIRED = ("validating", "in_progress", "expired")
FAILED = ("validating", "failed")


@dataclass
class FakeBatch:
    id: str
    input_file_id: str
    metadata: dict[str, Any] | None
    statuses: list[str]
    created_at: int = field(default_factory=lambda: int(time.time()))
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    polls: int = 0

    @property
    def status(self) -> str:
        return self.statuses[0]

    def as_json(self) -> dict[str, Any]:
        errors = None
        if self.status == "failed":
            data = [{"code": "invalid_request", "message": "scripted validation failure", "line": 1}]
            errors = {"object": "list", "data": data}
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "errors": errors,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "request_counts": dict(self.counts),
            "metadata": self.metadata,
        }


class FakeBatchApi:
    """The files and batches a test's server holds; `answer` and `statuses` script the next batch."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}  # id: (purpose, content)
        self.batches: dict[str, FakeBatch] = {}
        self.requests: list[RecordedRequest] = []
        self.answer: Answer | None = None
        self.statuses: Sequence[str] = COMPLETED
        self.refuse: dict[str, Step] = {}  # "files" / "batches": the answer to every POST there
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def input_lines(self, batch_id: str) -> list[dict[str, Any]]:
        content = self.files[self.batches[batch_id].input_file_id][1]
        return [json.loads(line) for line in content.decode().splitlines() if line.strip()]

    def handle(self, request: RecordedRequest) -> Step:
        from tests.fakes.model_server import Step, error

        with self._lock:
            self.requests.append(request)
            parts = request.path.strip("/").split("/")[1:]  # without the leading "v1"
            if request.method == "POST" and len(parts) == 1 and parts[0] in self.refuse:
                return self.refuse[parts[0]]
            if request.method == "POST" and parts == ["files"]:
                return Step(payload=self._upload(request))
            if request.method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
                found = self.files.get(parts[1])
                if found is None:
                    return error(404, f"no file {parts[1]}")
                return Step(payload=found[1], content_type="application/octet-stream")
            if request.method == "POST" and parts == ["batches"]:
                return self._create(request.body or {})
            if request.method == "GET" and len(parts) == 2 and parts[0] == "batches":
                batch = self.batches.get(parts[1])
                if batch is None:
                    return error(404, f"no batch {parts[1]}")
                return Step(payload=self._poll(batch))
            return error(404, f"no route for {request.method} {request.path}")

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):04d}"

    def _upload(self, request: RecordedRequest) -> dict[str, Any]:
        fields = _multipart(request.headers.get("content-type", ""), request.raw)
        file_id = self._new_id("file")
        content = fields.get("file", b"")
        self.files[file_id] = (fields.get("purpose", b"").decode(), content)
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": "requests.jsonl",
            "purpose": fields.get("purpose", b"").decode(),
            "status": "processed",
        }

    def _create(self, body: dict[str, Any]) -> Step:
        from tests.fakes.model_server import Step, error

        file_id = body.get("input_file_id")
        if file_id not in self.files or self.files[file_id][0] != "batch":
            return error(400, f"input file {file_id!r} is not an uploaded file of purpose 'batch'")
        if body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            return error(400, "endpoint must be /v1/chat/completions and completion_window 24h")
        batch = FakeBatch(self._new_id("batch"), file_id, body.get("metadata"), list(self.statuses))
        self.batches[batch.id] = batch
        return Step(payload=batch.as_json())

    def _poll(self, batch: FakeBatch) -> dict[str, Any]:
        """The batch as it is now; then one step on (its results made when it gets there)."""
        batch.polls += 1
        shown = batch.as_json()
        if len(batch.statuses) > 1:
            batch.statuses.pop(0)
            if len(batch.statuses) == 1:
                self._finish(batch)
        return shown

    def _finish(self, batch: FakeBatch) -> None:
        lines = self.input_lines(batch.id)
        batch.counts["total"] = len(lines)
        if batch.status == "failed":
            return
        output, errors = [], []
        for line in lines:
            step = self.answer(line["custom_id"], line["body"]) if self.answer is not None else None
            if step is None:
                if batch.status == "expired":
                    errors.append(
                        _error_line(line["custom_id"], "batch_expired", "not run in the 24h window")
                    )
                continue
            body = step.payload if isinstance(step.payload, dict) else step.payload.decode(errors="replace")
            response = {"status_code": step.status, "request_id": f"req-{len(output)}", "body": body}
            item = {
                "id": f"batch_req_{line['custom_id']}",
                "custom_id": line["custom_id"],
                "response": response,
                "error": None,
            }
            (output if step.status == 200 else errors).append(item)
        batch.counts.update(completed=len(output), failed=len(errors))
        batch.output_file_id = self._store(output, batch)
        batch.error_file_id = self._store(errors, batch)

    def _store(self, items: list[dict[str, Any]], batch: FakeBatch) -> str | None:
        if not items:
            return None
        file_id = self._new_id("file")
        text = "".join(json.dumps(item) + "\n" for item in items)
        self.files[file_id] = ("batch_output", text.encode())
        return file_id


def _error_line(custom_id: str, code: str, message: str) -> dict[str, Any]:
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": None,
        "error": {"code": code, "message": message},
    }


def _multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body (the SDK's file upload)."""
    message = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, bytes] = {}
    for part in message.get_payload() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = part.get_payload(decode=True) or b""
    return fields

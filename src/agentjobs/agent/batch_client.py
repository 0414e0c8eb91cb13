"""The Batch API's files and batches endpoints, through the openai SDK, errors sorted as the
online call sorts them (agent/model_client.py): transient ones retry, permanent ones do not.

Submit uploads the JSONL (`files.create`, purpose "batch") and creates the batch
(`batches.create`, endpoint /v1/chat/completions, window 24h); `status` reads where it is;
`download` fetches its output or error file as text. The triggerer polls with the async
client; both read a batch through `batch_status`.

A submit the endpoint refuses for good, but not for the key (a 404: no Batch API there, as the
embedded llama.cpp server; a 400 or 413 on the upload) raises BatchUnavailable: the teams can
still be asked online. A refused key (401, 403) stays a plain ModelRequestError: the online
calls would carry the same key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from agentjobs.agent.batch_request import BATCH_ENDPOINT, COMPLETION_WINDOW
from agentjobs.agent.errors import AgentError, ModelRequestError, RateLimited, TransientAgentError
from agentjobs.agent.model_client import _error_summary, _retry_after

if TYPE_CHECKING:
    import openai

T = TypeVar("T")

# A batch in one of these states changes no more; "completed" may still hold failed lines.
FINAL_STATES = frozenset({"completed", "expired", "failed", "cancelled"})
MAX_RESULT_BYTES = 200 * 1024 * 1024  # the API's own input cap; an output past it is not ours
_ERROR_TEXT = 300
# A key the endpoint refuses fails the batch loud: asking online would send the same key.
AUTH_STATUS = frozenset({401, 403})


@dataclass(frozen=True)
class Submitted:
    """What a run keeps of its batch, so a retry or a clear finds it instead of paying again."""

    batch_id: str
    input_file_id: str

    def as_dict(self) -> dict[str, str]:
        return {"batch_id": self.batch_id, "input_file_id": self.input_file_id}


@dataclass(frozen=True)
class BatchStatus:
    batch_id: str
    status: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    errors: tuple[str, ...] = field(default=())  # why a batch failed as a whole (validation)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATES

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "total": self.total,
            "completed": self.completed,
            "failed": self.failed,
            "errors": list(self.errors),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchStatus:
        return cls(
            batch_id=str(data["batch_id"]),
            status=str(data["status"]),
            output_file_id=data.get("output_file_id"),
            error_file_id=data.get("error_file_id"),
            total=int(data.get("total") or 0),
            completed=int(data.get("completed") or 0),
            failed=int(data.get("failed") or 0),
            errors=tuple(str(e) for e in data.get("errors") or ()),
        )


def batch_status(batch: Any) -> BatchStatus:
    """A BatchStatus of the SDK's `Batch` (sync or async client alike)."""
    counts = batch.request_counts
    errors = getattr(batch.errors, "data", None) or []
    return BatchStatus(
        batch_id=batch.id,
        status=batch.status,
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        total=counts.total if counts else 0,
        completed=counts.completed if counts else 0,
        failed=counts.failed if counts else 0,
        errors=tuple(f"{e.code or 'error'}: {e.message or ''}"[:_ERROR_TEXT] for e in errors),
    )


def translated(exc: Exception) -> AgentError | None:
    """The agent error an SDK exception stands for (None: not the SDK's)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return TransientAgentError(f"Batch API call timed out: {exc}")
    if isinstance(exc, openai.APIConnectionError):
        return TransientAgentError(f"cannot reach the Batch API: {exc}")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429:
            return RateLimited(_error_summary(exc), _retry_after(exc))
        if exc.status_code >= 500 or exc.status_code == 408:
            return TransientAgentError(_error_summary(exc), _retry_after(exc))
        if exc.status_code in AUTH_STATUS:
            return ModelRequestError(
                f"Batch API refused the key: {_error_summary(exc)}; check the LLM connection's "
                "password (the API key) and its access to the files and batches endpoints"
            )
        return ModelRequestError(f"Batch API refused the request: {_error_summary(exc)}")
    if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError)):
        return TransientAgentError(f"malformed response from the Batch API: {exc}")
    return None


class BatchUnavailable(ModelRequestError):
    """The endpoint will not take this batch (no Batch API, or a permanent 4xx other than an
    auth error on the upload or the create); `url` and `status_code` say where and how."""

    def __init__(self, url: str, status_code: int, summary: str) -> None:
        super().__init__(f"the Batch API at {url} refused the batch ({summary})")
        self.url = url
        self.status_code = status_code


def unavailable(exc: Exception) -> BatchUnavailable | None:
    """The BatchUnavailable an SDK error of a submit stands for (None: transient, auth, not the SDK's)."""
    import openai

    if not isinstance(exc, openai.APIStatusError):
        return None
    code = exc.status_code
    if not 400 <= code < 500 or code in AUTH_STATUS or code in (408, 429):
        return None
    return BatchUnavailable(str(exc.request.url), code, _error_summary(exc))


class BatchApi:
    """The Batch API of one endpoint, on an `openai.OpenAI` client (closing it is the caller's)."""

    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    def submit(self, lines: bytes, metadata: Mapping[str, str] | None = None) -> Submitted:
        """Upload the request lines and start a batch on them."""
        uploaded = self._call(
            lambda: self.client.files.create(
                file=("requests.jsonl", lines, "application/jsonl"), purpose="batch"
            ),
            submitting=True,
        )
        batch = self._call(
            lambda: self.client.batches.create(
                input_file_id=uploaded.id,
                endpoint=BATCH_ENDPOINT,
                completion_window=COMPLETION_WINDOW,
                metadata=dict(metadata) if metadata else None,
            ),
            submitting=True,
        )
        return Submitted(batch_id=batch.id, input_file_id=uploaded.id)

    def status(self, batch_id: str) -> BatchStatus:
        return batch_status(self._call(lambda: self.client.batches.retrieve(batch_id)))

    def download(self, file_id: str | None) -> str:
        """A result file's text ("" for none): the output file, or the error file of failed lines."""
        if not file_id:
            return ""
        content = self._call(lambda: self.client.files.content(file_id)).content
        if len(content) > MAX_RESULT_BYTES:
            raise ModelRequestError(
                f"batch result file {file_id} is {len(content)} bytes, over {MAX_RESULT_BYTES}"
            )
        return content.decode("utf-8", errors="replace")

    @staticmethod
    def _call(fn: Callable[[], T], *, submitting: bool = False) -> T:
        try:
            return fn()
        except Exception as exc:
            error = (unavailable(exc) if submitting else None) or translated(exc)
            if error is None:
                raise
            raise error from exc

"""A finished batch's output and error files, sorted per request: answered, failed or missing.

The files are the endpoint's text and may hold anything: each line is parsed as JSON data and
nothing else (never evaluated); a line that is not an object, names a custom_id this run did
not send, or repeats one already answered is ignored and counted; an error text is kept short.
A request neither answered nor failed (the batch expired, failed or was cancelled before it
reached it) is missing; answered wins over failed when a file names one request twice.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

ERROR_TEXT = 300  # characters of one request's error kept


@dataclass(frozen=True)
class BatchResults:
    answered: dict[str, dict[str, Any]] = field(default_factory=dict)  # custom_id: completion body
    failed: dict[str, str] = field(default_factory=dict)  # custom_id: why
    missing: tuple[str, ...] = ()
    ignored_lines: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "answered": self.answered,
            "failed": self.failed,
            "missing": list(self.missing),
            "ignored_lines": self.ignored_lines,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchResults:
        return cls(
            answered=dict(data.get("answered") or {}),
            failed={str(k): str(v) for k, v in (data.get("failed") or {}).items()},
            missing=tuple(data.get("missing") or ()),
            ignored_lines=int(data.get("ignored_lines") or 0),
        )

    def usage_of(self, key: str) -> dict[str, int] | None:
        usage = self.answered.get(key, {}).get("usage")
        return usage if isinstance(usage, dict) else None


def parse_results(expected: Collection[str], output_text: str, error_text: str = "") -> BatchResults:
    """Sort the lines of the output and error files by the custom_ids this run sent."""
    wanted = set(expected)
    answered: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    ignored = 0
    for line in (*output_text.splitlines(), *error_text.splitlines()):
        if not line.strip():
            continue
        item = _load(line)
        key = item.get("custom_id") if item is not None else None
        if not isinstance(key, str) or key not in wanted or key in answered:
            ignored += 1
            continue
        body, problem = _outcome(item)  # type: ignore[arg-type]  # item is a dict when key is set
        if body is not None:
            answered[key] = body
            failed.pop(key, None)
        else:
            failed.setdefault(key, problem)
    missing = tuple(sorted(k for k in wanted if k not in answered and k not in failed))
    return BatchResults(answered=answered, failed=failed, missing=missing, ignored_lines=ignored)


def _load(line: str) -> dict[str, Any] | None:
    try:
        item = json.loads(line)
    except ValueError:
        return None
    return item if isinstance(item, dict) else None


def _outcome(item: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The completion body of an answered line, or None and why the line failed."""
    error = item.get("error")
    if error:
        return None, _error_text(error)
    response = item.get("response")
    if not isinstance(response, dict):
        return None, "the line has no response"
    status = response.get("status_code")
    body = response.get("body")
    if status != 200:
        inner = body.get("error") if isinstance(body, dict) else None
        return None, f"HTTP {status}: {_error_text(inner) if inner else 'no error given'}"
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list) or not body["choices"]:
        return None, "the answer holds no choices"
    return body, ""


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        text = f"{code}: {message}" if code else str(message)
    else:
        text = str(error)
    return text[:ERROR_TEXT]

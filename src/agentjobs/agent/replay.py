"""Replay of completed model calls, so a retry does not pay for them again.

Each live call's response is kept under a fingerprint of its request (model, messages,
tools, response format, max tokens). When a retried task asks the very same question
again, the kept answer is replayed instead of calling the model; as soon as anything in
the request differs (a changed prompt, another model, a tool that returned something
else), the call runs live. Replayed calls were already counted in the budget by the try
that made them, so they are not counted again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


def fingerprint(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class ReplayCache:
    """Responses by request fingerprint; `entries` is what gets persisted between tries."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    replayed: int = 0

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, key: str, response: dict[str, Any]) -> None:
        self.entries[key] = response

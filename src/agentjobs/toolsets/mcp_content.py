"""What an MCP tool call returned, as the lines of text the model is shown.

A `CallToolResult` holds content blocks (text, images, audio, embedded resources, resource
links) and maybe structured content. The agent loop speaks text, so text is kept line by line,
a text resource is kept under its URI, and binary content is named with its type and size but
not shown (base64 would spend the budget on noise). Structured content is shown as JSON when
the server sent no text: a server that sends both puts the same answer in its text.
"""

from __future__ import annotations

import json
from typing import Any


def result_lines(result: Any) -> list[str]:
    """The lines of `result` (an mcp `CallToolResult`), in the order the server sent them."""
    lines: list[str] = []
    for block in result.content or []:
        lines += _block_lines(block)
    if not lines and result.structured_content is not None:
        lines = json.dumps(result.structured_content, ensure_ascii=False, indent=1).splitlines()
    return lines


def _block_lines(block: Any) -> list[str]:
    kind = getattr(block, "type", None)
    if kind == "text":
        return block.text.splitlines() or [""]
    if kind in ("image", "audio"):
        return [f"[{kind} {block.mime_type}, {_decoded_size(block.data)} bytes, not shown]"]
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if text is not None:
            return [f"[resource {resource.uri}]", *text.splitlines()]
        mime = getattr(resource, "mime_type", None) or "binary"
        return [f"[resource {resource.uri}, {mime}, {_decoded_size(resource.blob)} bytes, not shown]"]
    if kind == "resource_link":
        return [f"[resource link {block.uri} ({block.name})]"]
    return [f"[a {kind or 'content'} block, not shown]"]


def _decoded_size(base64_text: str) -> int:
    """The size of what `base64_text` encodes, without decoding it."""
    padding = base64_text[-2:].count("=")
    return max(0, len(base64_text) * 3 // 4 - padding)

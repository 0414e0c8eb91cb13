"""An MCP tool result as lines: text kept line by line, text resources under their URI, binary
content named with its size but never shown, structured content when there is no text."""

from __future__ import annotations

import base64

import pytest

from agentjobs.toolsets.mcp_content import result_lines

types = pytest.importorskip("mcp.types")


def test_text_images_and_resources_become_lines_in_order():
    png = base64.b64encode(b"\x89PNG" + b"\x00" * 96).decode()
    result = types.CallToolResult(
        content=[
            types.TextContent(text="two\nlines"),
            types.ImageContent(data=png, mime_type="image/png"),
            types.EmbeddedResource(
                resource=types.TextResourceContents(uri="file:///notes/a.txt", text="note a\nmore")
            ),
            types.EmbeddedResource(
                resource=types.BlobResourceContents(uri="file:///b.bin", blob=png, mime_type="application/x")
            ),
            types.ResourceLink(uri="file:///c.txt", name="c"),
        ]
    )
    assert result_lines(result) == [
        "two",
        "lines",
        "[image image/png, 100 bytes, not shown]",
        "[resource file:///notes/a.txt]",
        "note a",
        "more",
        "[resource file:///b.bin, application/x, 100 bytes, not shown]",
        "[resource link file:///c.txt (c)]",
    ]


def test_structured_content_is_shown_when_there_is_no_text():
    result = types.CallToolResult(content=[], structured_content={"total": 3, "name": "Zoë"})
    assert result_lines(result) == ["{", ' "total": 3,', ' "name": "Zoë"', "}"]


def test_an_empty_result_has_no_lines_and_empty_text_one():
    assert result_lines(types.CallToolResult(content=[])) == []
    assert result_lines(types.CallToolResult(content=[types.TextContent(text="")])) == [""]

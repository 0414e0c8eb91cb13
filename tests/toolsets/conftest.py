"""Fixtures of the toolset tests: the fake MCP server over streamable HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.mcp_process import HttpServer


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """The fake MCP server serving streamable HTTP on a loopback port, stopped after the test."""
    server = HttpServer()
    try:
        yield server
    finally:
        server.stop()

"""Pytest fixtures for the scripted model server (imported by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.model_server import ScriptedModelServer


@pytest.fixture
def model_server() -> Iterator[ScriptedModelServer]:
    """A started ScriptedModelServer, fresh per test so scripts and recordings never leak."""
    server = ScriptedModelServer().start()
    try:
        yield server
    finally:
        server.stop()

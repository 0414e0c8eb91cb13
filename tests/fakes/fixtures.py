"""Pytest fixtures for the scripted model server and the company directory (imported by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.directory import FakeDirectory
from tests.fakes.model_server import ScriptedModelServer


@pytest.fixture
def model_server() -> Iterator[ScriptedModelServer]:
    """A started ScriptedModelServer, fresh per test so scripts and recordings never leak."""
    server = ScriptedModelServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def company_directory() -> Iterator[FakeDirectory]:
    """A company directory on loopback (tests/fakes/directory.py), answers set per test."""
    from agentjobs.business.directory import serve_directory

    fake = FakeDirectory()
    with serve_directory(fake.answer) as directory:
        fake.url, fake.requests = directory.url, directory.requests
        yield fake

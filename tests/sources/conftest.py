from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.github import GitHubReplay


@pytest.fixture
def github_api() -> Iterator[GitHubReplay]:
    """A fresh loopback GitHub REST API replay, stopped after the test."""
    replay = GitHubReplay().start()
    try:
        yield replay
    finally:
        replay.stop()

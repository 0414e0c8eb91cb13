"""The test distributions of site/ installed for one test: on sys.path, their entry points read."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SKILLS = HERE / "skills"


@pytest.fixture
def installed_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The site folder on sys.path, as if the packages were installed; forgotten after the test."""
    from agentjobs.jobs.kinds import registry

    site = tmp_path / "site"
    shutil.copytree(HERE / "site", site)
    monkeypatch.syspath_prepend(str(site))
    registry.forget_installed()
    yield site
    monkeypatch.undo()
    registry.forget_installed()

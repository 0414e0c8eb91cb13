"""Where the command finds the project (include/) and the repository its demo digest reads."""

from __future__ import annotations

import subprocess

import pytest

from agentjobs.cli.project import demo_repository, project_dir
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def no_configured_folders(monkeypatch):
    # The test session points the skills and jobs at the checkout; a user's Airflow does not.
    monkeypatch.delenv("AGENTJOBS_JOBS_DIR", raising=False)
    monkeypatch.delenv("AGENTJOBS_PROJECT_DIR", raising=False)


def test_outside_any_project_the_commands_read_the_shipped_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # An editable install ships the checkout it was installed from (a wheel: agentjobs/shipped/).
    assert project_dir() == REPO
    # Its demo digest reads this project's history; outside a checkout, the repository the
    # command runs in, and none in a folder that is no repository.
    assert demo_repository(REPO) == REPO
    assert demo_repository(tmp_path / "installed") is None
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert demo_repository(tmp_path / "installed") == tmp_path.resolve()

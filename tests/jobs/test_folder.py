"""Which jobs folder a DAG file reads: the configured one, else the one `agentjobs init` wrote beside
it, else include/jobs of the project holding the dags/ folder. (After a real init: test_cli_init.py.)"""

from __future__ import annotations

import pytest

from agentjobs.jobs.folder import jobs_folder
from agentjobs.shipped import INIT_FOLDER


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("AGENTJOBS_JOBS_DIR", raising=False)
    dags = tmp_path / "project" / "dags"
    dags.mkdir(parents=True)
    return dags


def test_the_configured_folder_wins_over_both_layouts(project, monkeypatch, tmp_path):
    (project / INIT_FOLDER / "include" / "jobs").mkdir(parents=True)
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(tmp_path / "my-jobs"))
    assert jobs_folder(str(project / "agentjobs_jobs.py")) == tmp_path / "my-jobs"


def test_the_folder_init_wrote_beside_the_dag_file_is_read(project):
    written = project / INIT_FOLDER / "include" / "jobs"
    written.mkdir(parents=True)
    assert jobs_folder(str(project / "agentjobs_jobs.py")) == written


def test_otherwise_the_projects_include_jobs_beside_dags_is_read(project):
    assert jobs_folder(str(project / "agentjobs_jobs.py")) == project.parent / "include" / "jobs"
    # A file named like the init folder is not the folder.
    (project / INIT_FOLDER).write_text("")
    assert jobs_folder(str(project / "agentjobs_jobs.py")) == project.parent / "include" / "jobs"


def test_a_relative_dag_file_path_is_resolved_first(project, monkeypatch):
    monkeypatch.chdir(project)
    assert jobs_folder("agentjobs_jobs.py") == project.parent / "include" / "jobs"

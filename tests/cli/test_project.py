"""Where the command finds the project (include/) and the repository its demo digest reads."""

from __future__ import annotations

import os
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


def test_the_project_is_the_configured_folder_else_the_nearest_one_holding_the_jobs(tmp_path, monkeypatch):
    project = tmp_path / "checkout"
    (project / "include" / "jobs").mkdir(parents=True)
    (project / "include" / "jobs" / "daily-digest.yaml").write_text("dag_id: daily_digest\n")
    (project / "docs" / "deep").mkdir(parents=True)
    monkeypatch.chdir(project / "docs" / "deep")
    assert project_dir() == project  # found from a folder below it
    monkeypatch.setenv("AGENTJOBS_PROJECT_DIR", str(tmp_path / "elsewhere" / ".." / "configured"))
    assert project_dir() == tmp_path / "configured"  # the variable wins, resolved


def test_the_environment_points_airflow_at_the_output_folder_and_keeps_a_chosen_log_level(
    tmp_path, monkeypatch
):
    from agentjobs.cli.project import prepare_environment

    written = (
        "AIRFLOW_HOME",
        "AIRFLOW__CORE__DAGS_FOLDER",
        "AIRFLOW__CORE__LOAD_EXAMPLES",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__LOGGING__LOGGING_LEVEL",
        "AGENTJOBS_ARTIFACT_BASE",
        "AGENTJOBS_SKILLS_DIR",
        "AIRFLOW__AGENTJOBS__RUN_FILES",
    )
    for name in written:  # recorded, so the session's own values come back after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG")
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", "s3://the-deployments-bucket/runs")
    out = tmp_path / "out"
    prepare_environment(out, REPO, verbose=False)
    home = out / ".airflow"
    assert (home / "dags").is_dir()
    assert os.environ["AIRFLOW_HOME"] == str(home)
    assert os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home / 'airflow.db'}"
    assert os.environ["AGENTJOBS_ARTIFACT_BASE"] == str(out)
    # The command shows the run's files from its output folder: no deployment's store for them.
    assert os.environ["AIRFLOW__AGENTJOBS__RUN_FILES"] == ""
    assert os.environ["AGENTJOBS_SKILLS_DIR"] == str(REPO / "include" / "skills")
    assert os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "DEBUG"  # the user's choice stays
    monkeypatch.delenv("AIRFLOW__LOGGING__LOGGING_LEVEL")
    prepare_environment(out, REPO, verbose=False)
    assert os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "WARNING"  # Airflow's own logs kept quiet

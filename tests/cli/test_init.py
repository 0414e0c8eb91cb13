"""`agentjobs init`: the DAG files and the shipped jobs, to edit, in an existing Airflow's DAGs folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentjobs.cli import main
from agentjobs.jobs.folder import jobs_folder
from tests.conftest import REPO

PROJECT = Path("agentjobs-project")


@pytest.fixture(autouse=True)
def no_configured_folders(monkeypatch):
    # The test session points the skills and jobs at the checkout; a user's Airflow does not.
    monkeypatch.delenv("AGENTJOBS_JOBS_DIR", raising=False)
    monkeypatch.delenv("AGENTJOBS_PROJECT_DIR", raising=False)


def test_init_writes_the_dag_files_and_every_shipped_spec_skill_and_demo_file(tmp_path, capsys):
    dags = tmp_path / "dags"
    assert main(["init", str(dags)]) == 0
    for name in ("agentjobs_jobs.py", "agentjobs_spec_errors.py"):
        assert (dags / name).read_bytes() == (REPO / "dags" / name).read_bytes()
    shipped = [p for p in (REPO / "include").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(shipped) > 20
    for path in shipped:
        assert (dags / PROJECT / path.relative_to(REPO)).read_bytes() == path.read_bytes(), path
    # The DAG file finds the written specs with no environment variable.
    assert jobs_folder(str(dags / "agentjobs_jobs.py")) == dags / PROJECT / "include" / "jobs"
    out = capsys.readouterr().out
    assert "wrote agentjobs_jobs.py" in out
    assert 'airflow pools set agentjobs_llm 4 "LLM endpoint"' in out
    assert "airflow connections add agentjobs_llm_default --conn-type agentjobs_llm" in out
    assert "slack_default" in out and "smtp_default" in out  # the delivery connections to define
    assert "Point daily_digest's sources.git.repos at your repositories: . (relative to" in out


def test_init_says_which_ledger_the_jobs_use_and_what_to_set_when_workers_run_on_several_hosts(
    tmp_path, capsys, monkeypatch
):
    dags = tmp_path / "dags"
    monkeypatch.delenv("AGENTJOBS_LEDGER_CONN_ID", raising=False)
    monkeypatch.delenv("AGENTJOBS_LEDGER_SINGLE_HOST", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    main(["init", str(dags)])
    out = capsys.readouterr().out
    assert "The delivery ledger of every job is the SQLite file $AIRFLOW_HOME/agentjobs-ledger.db" in out
    assert "fine while every task runs on this host (LocalExecutor)" in out

    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    main(["init", str(dags)])
    out = capsys.readouterr().out
    assert "but your executor CeleryExecutor runs tasks on several hosts" in out
    assert "these DAGs are refused until you set AGENTJOBS_LEDGER_CONN_ID=<a postgres connection" in out
    assert "airflow connections add agentjobs_ledger --conn-type postgres" in out

    monkeypatch.setenv("AIRFLOW_CONN_AGENTJOBS_LEDGER", "postgresql://agentjobs@ledger-db:5432/ledger")
    monkeypatch.setenv("AGENTJOBS_LEDGER_CONN_ID", "agentjobs_ledger")
    main(["init", str(dags)])
    out = capsys.readouterr().out
    assert (
        "The delivery ledger of every job is the postgres database of connection 'agentjobs_ledger': "
        "every worker that reaches it shares it." in out
    )
    assert "refused" not in out


def test_init_says_the_page_comes_with_the_package_and_names_an_old_copy_in_the_plugins_folder(
    tmp_path, capsys, monkeypatch
):
    plugins = tmp_path / "plugins"
    (plugins / "mine").mkdir(parents=True)
    (plugins / "mine" / "other.py").write_text("# a user's own plugin\n")
    monkeypatch.setenv("AIRFLOW__CORE__PLUGINS_FOLDER", str(plugins))
    main(["init", str(tmp_path / "dags")])
    out = capsys.readouterr().out
    assert "The Agent runs page (Browse → Agent runs) is registered by the installed package" in out
    assert "Delete the old copy" not in out

    # The file earlier versions told users to copy, as they copied it.
    old = "class AgentJobsUiPlugin(AirflowPlugin):\n    name = 'agentjobs_ui'\n"
    (plugins / "agentjobs_ui.py").write_text(old)
    main(["init", str(tmp_path / "dags")])
    out = capsys.readouterr().out
    copy = plugins / "agentjobs_ui.py"
    assert f"Delete the old copy of the Agent runs page in your plugins folder ({copy})" in out
    assert "other.py" not in out


def test_init_keeps_existing_files_and_says_so_unless_forced(tmp_path, capsys):
    dags = tmp_path / "dags"
    main(["init", str(dags)])
    spec = dags / PROJECT / "include" / "jobs" / "daily-digest.yaml"
    edited = spec.read_text().replace('"0 3 * * *"', '"0 5 * * *"')
    spec.write_text(edited)
    capsys.readouterr()

    assert main(["init", str(dags)]) == 0
    out = capsys.readouterr().out
    assert spec.read_text() == edited, "a user's edited spec is never overwritten"
    assert "kept  agentjobs-project/include/jobs/daily-digest.yaml (exists; --force overwrites it)" in out
    assert "0 file(s) written" in out

    assert main(["init", str(dags), "--force"]) == 0
    assert spec.read_bytes() == (REPO / "include" / "jobs" / "daily-digest.yaml").read_bytes()


def test_init_without_a_folder_writes_into_airflows_configured_dags_folder(tmp_path):
    dags = tmp_path / "configured-dags"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AGENTJOBS"))}
    result = subprocess.run(
        [sys.executable, "-m", "agentjobs.cli", "init"],
        env={**env, "AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"initialising the DAGs folder {dags}" in result.stdout
    assert (dags / "agentjobs_jobs.py").is_file()
    assert (dags / PROJECT / "include" / "jobs" / "daily-digest.yaml").is_file()


@pytest.mark.airflow
def test_the_dag_processor_parses_the_initialised_folder_and_nothing_inside_the_project(airflow_db, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    from tests.jobs.specs import SHIPPED

    dags = tmp_path / "dags"
    main(["init", str(dags)])
    # A helper script a user drops beside a skill is not a DAG file: .airflowignore keeps it out.
    helper = dags / PROJECT / "include" / "skills" / "daily-digest" / "helper.py"
    helper.write_text("# airflow dag\nraise RuntimeError('parsed a file inside agentjobs-project')\n")
    bag = DagBag(dag_folder=str(dags))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {*SHIPPED, "agentjobs_health"}


@pytest.mark.parametrize("in_the_way", [".", "agentjobs-project/include/jobs"])
def test_a_file_where_a_folder_goes_is_named_before_anything_is_written(tmp_path, capsys, in_the_way):
    # Before, a file as DAGS_FOLDER failed on "FileExistsError: [Errno 17]", and one deeper down
    # after the DAG files were written: a DAG file with no specs beside it.
    dags = tmp_path / "dags"
    blocker = dags / in_the_way if in_the_way != "." else dags
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    assert main(["init", str(dags)]) == 2
    err = capsys.readouterr().err
    assert f"{blocker} is a file, not a folder" in err and "move it" in err
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != blocker]
    assert written == []

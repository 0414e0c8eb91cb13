"""Where a job's files go: the configured artifact base, else one under Airflow's home, and one
folder per dag_id that never leaves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjobs.jobs.artifacts import artifact_base, dag_folder


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("AGENTJOBS_ARTIFACT_BASE", raising=False)
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    return monkeypatch


def test_the_configured_base_wins(env, tmp_path):
    env.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    env.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "artifacts"))
    assert artifact_base() == tmp_path / "artifacts"


def test_without_it_the_base_is_under_airflow_home(env, tmp_path):
    env.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    assert artifact_base() == tmp_path / "home" / "agentjobs-artifacts"
    env.setenv("AGENTJOBS_ARTIFACT_BASE", "")  # set but empty: as if unset
    assert artifact_base() == tmp_path / "home" / "agentjobs-artifacts"


def test_without_either_the_base_is_under_airflows_default_home(env, tmp_path):
    env.setenv("HOME", str(tmp_path))
    assert artifact_base() == Path(tmp_path) / "airflow" / "agentjobs-artifacts"


@pytest.mark.parametrize("dag_id", ["daily_digest", "team-digest.v2", "a"])
def test_a_dag_id_names_one_folder_directly_under_the_base(env, tmp_path, dag_id):
    env.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    assert dag_folder(dag_id) == tmp_path / dag_id


@pytest.mark.parametrize("dag_id", ["", ".", "..", "../elsewhere", "a/b", "/etc", "a/../../b"])
def test_a_dag_id_that_would_leave_or_nest_in_the_base_is_refused_naming_the_fix(env, tmp_path, dag_id):
    env.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    with pytest.raises(ValueError) as refused:
        dag_folder(dag_id)
    assert str(refused.value) == (
        f"dag_id {dag_id!r} would put run files outside {tmp_path}; use letters, digits, '_', '-' or '.'"
    )

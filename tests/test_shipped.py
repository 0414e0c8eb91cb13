"""Where the shipped skills, job specs, demo data and DAG files are read from: a wheel's package
data, else the checkout an editable install points at, else an error saying how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjobs import shipped

REPO = Path(__file__).resolve().parents[1]


def test_a_checkout_serves_its_own_folders_and_dag_files():
    assert shipped.shipped_project() == REPO
    assert shipped.skills_dir() == REPO / "include" / "skills" and (shipped.skills_dir() / "echo").is_dir()
    assert shipped.jobs_dir().is_dir() and shipped.demo_dir().is_dir()
    assert [p.name for p in shipped.dag_files()] == list(shipped.DAG_FILES)
    assert all(p.is_file() for p in shipped.dag_files())


def test_package_data_wins_over_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "shipped" / "include" / "skills").mkdir(parents=True)
    monkeypatch.setattr(shipped.resources, "files", lambda package: tmp_path)
    assert shipped.shipped_project() == tmp_path / "shipped"
    assert shipped.skills_dir() == tmp_path / "shipped" / "include" / "skills"
    assert shipped.dag_files()[0] == tmp_path / "shipped" / "dags" / shipped.DAG_FILES[0]


def test_an_install_with_neither_says_to_reinstall_from_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(shipped.resources, "files", lambda package: tmp_path)  # no shipped/ inside
    monkeypatch.setattr(shipped, "__file__", str(tmp_path / "site-packages" / "agentjobs" / "shipped.py"))
    with pytest.raises(
        RuntimeError, match=r"carries no shipped data .* reinstall the package from its wheel"
    ):
        shipped.skills_dir()


def test_a_folder_with_only_part_of_a_checkout_is_not_taken_for_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "include" / "jobs").mkdir(parents=True)  # but no dags/
    monkeypatch.setattr(shipped.resources, "files", lambda package: tmp_path / "pkg")
    monkeypatch.setattr(shipped, "__file__", str(tmp_path / "src" / "agentjobs" / "shipped.py"))
    with pytest.raises(RuntimeError, match="is not a checkout"):
        shipped.shipped_project()
    (tmp_path / "dags").mkdir()
    assert shipped.shipped_project() == tmp_path


def test_a_git_checkout_or_worktree_is_told_from_installed_data(tmp_path: Path):
    assert shipped.is_checkout(REPO)  # .git is a folder in a clone, a file in a worktree
    (tmp_path / "worktree").mkdir()
    (tmp_path / "worktree" / ".git").write_text("gitdir: /elsewhere\n")
    assert shipped.is_checkout(tmp_path / "worktree")
    assert not shipped.is_checkout(tmp_path)

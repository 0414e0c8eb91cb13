"""The broken specs' verdict kept between the two DAG files' parses: used only while nothing it
depends on changed, and never trusted when it cannot be read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agentjobs.jobs.spec_verdict import fingerprint, recall, remember, verdict_file

BROKEN = ["/jobs/b.yaml: invalid job spec: field 'title': Field required"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "airflow-home"
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    return home


@pytest.fixture
def jobs(tmp_path: Path) -> Path:
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "a.yaml").write_text("dag_id: a\n")
    (folder / "b.yaml").write_text("dag_id: b\n")
    return folder


def test_a_verdict_is_recalled_while_the_folder_is_unchanged(home, jobs):
    assert recall(jobs) is None
    remember(jobs, fingerprint(jobs), BROKEN)
    assert verdict_file(jobs).is_relative_to(home)
    assert recall(jobs) == BROKEN
    assert recall(jobs, fingerprint(jobs)) == BROKEN


def test_a_folder_without_broken_specs_is_remembered_as_such(home, jobs):
    remember(jobs, fingerprint(jobs), [])
    assert recall(jobs) == []  # "no broken spec", not "no verdict"


@pytest.mark.parametrize(
    "change",
    [
        lambda folder: (folder / "b.yaml").write_text("dag_id: b\ntitle: fixed\n"),
        lambda folder: (folder / "b.yaml").write_text("dag_id: c\n"),  # same size, other bytes
        lambda folder: (folder / "c.yaml").write_text("dag_id: c\n"),
        lambda folder: (folder / "b.yaml").unlink(),
        lambda folder: (folder / "b.yaml").rename(folder / "z.yaml"),
    ],
    ids=["edited", "same-size-edit", "added", "removed", "renamed"],
)
def test_any_change_to_a_spec_makes_the_kept_verdict_unused(home, jobs, change):
    remember(jobs, fingerprint(jobs), BROKEN)
    change(jobs)
    assert recall(jobs) is None


def test_files_that_are_not_specs_do_not_change_the_verdict(home, jobs):
    remember(jobs, fingerprint(jobs), BROKEN)
    (jobs / "README.md").write_text("notes")
    (jobs / "a.yaml.bak").write_text("old")
    assert recall(jobs) == BROKEN


def test_a_verdict_of_another_folder_is_not_recalled(home, jobs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    for spec in jobs.iterdir():
        (other / spec.name).write_bytes(spec.read_bytes())
    remember(jobs, fingerprint(jobs), BROKEN)
    assert fingerprint(other) == fingerprint(jobs)  # same specs: the file is keyed by the folder too
    assert verdict_file(other) != verdict_file(jobs)
    assert recall(other) is None


@pytest.mark.parametrize(
    "kept",
    [
        "not json",
        "[1, 2]",
        '{"fingerprint": "%s"}',
        '{"fingerprint": "%s", "errors": "one line"}',
        '{"fingerprint": "%s", "errors": [1]}',
        '{"fingerprint": "stale", "errors": []}',
    ],
)
def test_a_damaged_or_stale_verdict_file_is_not_used(home, jobs, kept):
    target = verdict_file(jobs)
    target.parent.mkdir(parents=True)
    target.write_text(kept.replace("%s", fingerprint(jobs)) if "%s" in kept else kept)
    assert recall(jobs) is None


def test_a_steady_folder_writes_nothing(home, jobs):
    remember(jobs, fingerprint(jobs), BROKEN)
    target = verdict_file(jobs)
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    remember(jobs, fingerprint(jobs), BROKEN)
    assert target.stat().st_mtime_ns == 1_000_000_000
    remember(jobs, fingerprint(jobs), [])  # a new verdict is written
    assert json.loads(target.read_text())["errors"] == []


def test_a_home_that_cannot_be_written_leaves_no_verdict_and_raises_nothing(tmp_path, monkeypatch, jobs):
    blocked = tmp_path / "home-is-a-file"
    blocked.write_text("")
    monkeypatch.setenv("AIRFLOW_HOME", str(blocked))
    remember(jobs, fingerprint(jobs), BROKEN)
    assert recall(jobs) is None

"""A run's folder as the page reads it: only regular files directly in the folder, inside the artifact
base, are listed or read; the transcript is summarized as counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentjobs.ui import files


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "artifacts"
    base.mkdir()
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(base))
    return base


def test_a_digest_and_a_team_run_have_their_folders_and_a_name_that_would_leave_the_base_has_none(base):
    assert files.run_folder("daily_digest", "2026-11-24", None) == base / "daily_digest" / "2026-11-24"
    assert files.run_folder("anomaly_flags", "2026-11-24", "team-la") == (
        base / "anomaly_flags" / "team-la" / "2026-11-24"
    )
    assert files.run_folder("daily_digest", None, None) is None  # no period: no folder
    assert files.run_folder("..", "2026-11-24", None) is None
    assert files.run_folder("anomaly_flags", "2026-11-24", "../../etc") is None


def test_the_artifact_file_is_the_kinds_own(base):
    assert files.artifact_name(None) == files.artifact_name("digest") == "digest.md"
    from agentjobs.jobs.kinds.registry import fan_out_kind

    assert files.artifact_name("anomaly_flags") == fan_out_kind("anomaly_flags").artifact_file


def test_only_regular_files_directly_in_the_folder_are_listed_and_read(base, tmp_path):
    folder = base / "daily_digest" / "2026-11-24"
    (folder / "sources").mkdir(parents=True)
    (folder / "digest.md").write_text("# Digest\n")
    (folder / "sources" / "git.json").write_text("{}")
    outside = tmp_path / "secret.txt"
    outside.write_text("the ledger password")
    (folder / "leak.txt").symlink_to(outside)  # a link out of the artifact base
    (folder / "dangling.md").symlink_to(folder / "gone.md")
    assert files.listed_files(folder) == [("digest.md", 9)]
    assert files.read_artifact(folder, "digest.md") == "# Digest\n"
    for name in (
        "leak.txt",
        "dangling.md",
        "sources",
        "sources/git.json",
        "../2026-11-24/digest.md",
        "..",
        "",
    ):
        assert files.contained_file(folder, name) is None, name
        assert files.read_artifact(folder, name) is None, name
    assert files.listed_files(None) == [] and files.listed_files(folder / "missing") == []
    assert files.read_artifact(None, "digest.md") is None


def test_a_folder_outside_the_artifact_base_serves_nothing(base, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "digest.md").write_text("not a run's")
    assert files.contained_file(elsewhere, "digest.md") is None
    assert files.listed_files(elsewhere) == []


def test_a_huge_artifact_is_cut_and_bad_bytes_do_not_break_the_page(base, monkeypatch):
    folder = base / "daily_digest" / "2026-11-24"
    folder.mkdir(parents=True)
    (folder / "digest.md").write_bytes(b"ok \xff" + b"x" * 100)
    monkeypatch.setattr(files, "MAX_ARTIFACT_BYTES", 10)
    assert files.read_artifact(folder, "digest.md") == "ok \ufffdxxxxxx"


def test_the_transcript_is_counted_not_quoted(base):
    folder = base / "daily_digest" / "2026-11-24"
    folder.mkdir(parents=True)
    lines = [
        {"event": "completion", "content": "the prompt's secret text"},
        {"event": "tool", "name": "fetch_url", "ok": True},
        {"event": "tool", "name": "fetch_url", "ok": False},
        {"event": "tool", "name": "read_snapshot", "ok": True},
        {"content": "no event name"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + '\nnot json\n["a", "list"]\n'
    (folder / files.TRANSCRIPT_FILE).write_text(text)
    summary = files.summarize_transcript(folder)
    assert summary is not None
    assert summary.as_json() == {
        "events": {"completion": 1, "tool": 3, "?": 1},
        "tool_calls": {"fetch_url": 2, "read_snapshot": 1},
        "failed_tool_calls": 1,
        "unreadable_lines": 2,
    }
    assert "secret" not in json.dumps(summary.as_json())
    assert files.summarize_transcript(base / "daily_digest" / "2026-11-23") is None
    assert files.summarize_transcript(None) is None


def test_internal_bookkeeping_files_are_not_listed_among_the_runs_files(base):
    """done.json (the deliver/apply task's marker that the period is done) and a write in flight
    (atomic_file's hidden temp file) are the tasks' own, not a run's output a person looks at."""
    from agentjobs.atomic_file import write_atomically
    from agentjobs.operators.delivered import DONE_FILE, write_done

    folder = base / "anomaly_flags" / "team-la" / "2026-11-24"
    folder.mkdir(parents=True)
    write_atomically(folder / "anomalies.md", "# Anomalies\n")
    write_atomically(folder / "result.json", "{}")
    validated = {"artifact": str(folder / "anomalies.md"), "sha256": "0" * 64, "result": {}}
    write_done(folder, validated, "applied")  # as the apply task leaves it
    (folder / ".anomalies.md.k2j3h4.tmp").write_text("# Anom")  # a worker mid-write
    assert (folder / DONE_FILE).is_file()
    assert [name for name, _ in files.listed_files(folder)] == ["anomalies.md", "result.json"]
    # Nor served when asked for by name: the download refuses them like a file outside the folder.
    for name in (DONE_FILE, ".anomalies.md.k2j3h4.tmp"):
        assert files.contained_file(folder, name) is None and files.open_file(folder, name) is None
    assert files.read_artifact(folder, "anomalies.md") == "# Anomalies\n"


def test_internal_files_on_the_run_file_store_are_not_served_by_name(base, tmp_path, monkeypatch):
    store = tmp_path / "store"
    folder = store / "anomaly_flags" / "team-la" / "2026-11-24"
    folder.mkdir(parents=True)
    (folder / "flags.md").write_text("# Flags\n")
    (folder / "done.json").write_text('{"done": "applied"}')
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", store.as_uri())

    found = files.run_folder("anomaly_flags", "2026-11-24", "team-la")
    assert isinstance(found, files.StoredFolder)
    assert files.listed_files(found) == [("flags.md", 8)]
    assert files.stored_file(found, "done.json") is None and files.open_file(found, "done.json") is None
    assert files.stored_file(found, "flags.md") == "flags.md"


def test_with_a_run_file_store_the_folder_is_read_there_not_on_this_hosts_disk(base, tmp_path, monkeypatch):
    store = tmp_path / "store"
    folder = store / "anomaly_flags" / "team-la" / "2026-11-24"
    (folder / "sources").mkdir(parents=True)
    (folder / "flags.md").write_text("# Flags\n")
    (folder / "sources" / "sql.json").write_text("{}")
    (folder / files.TRANSCRIPT_FILE).write_text('{"event": "tool", "name": "read_snapshot", "ok": true}\n')
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", store.as_uri())

    found = files.run_folder("anomaly_flags", "2026-11-24", "team-la")
    assert isinstance(found, files.StoredFolder)
    assert files.listed_files(found) == [("flags.md", 8), (files.TRANSCRIPT_FILE, 55)]
    assert files.read_artifact(found, "flags.md") == "# Flags\n"
    assert files.summarize_transcript(found).as_json()["tool_calls"] == {"read_snapshot": 1}
    for name in ("sources/sql.json", "sql.json", "../team-la/2026-11-24/flags.md", "", ".."):
        assert files.stored_file(found, name) is None, name
        assert files.read_artifact(found, name) is None, name
    assert files.run_folder("..", "2026-11-24", None) is None  # still no name that leaves the base
    assert not (base / "anomaly_flags").exists()

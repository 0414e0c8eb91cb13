"""The one atomic-write helper: readers see the old file or the new one, never half."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentjobs.atomic_file import replacing, write_atomically


def test_new_file_gets_content_and_usual_mode(tmp_path: Path) -> None:
    target = tmp_path / "digest.md"
    write_atomically(target, "héllo")
    assert target.read_bytes() == "héllo".encode()
    assert target.stat().st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path) == ["digest.md"]


def test_replacing_keeps_the_existing_mode(tmp_path: Path) -> None:
    target = tmp_path / "run.sh"
    target.write_text("old")
    target.chmod(0o750)
    write_atomically(target, b"new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o750


def test_failure_mid_write_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    target.write_text("old result")
    with pytest.raises(OSError, match="disk full"):
        with replacing(target) as tmp:
            tmp.write_text("half of the new")
            raise OSError("disk full")
    assert target.read_text() == "old result"
    assert os.listdir(tmp_path) == ["result.json"]


def test_failed_rename_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "git.json"
    target.write_text("old snapshot")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        write_atomically(target, "new snapshot")
    assert target.read_text() == "old snapshot"
    assert os.listdir(tmp_path) == ["git.json"]


def test_content_is_on_disk_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash right after the rename must not leave the new name pointing at unwritten blocks."""
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    write_atomically(tmp_path / "x.md", "x")
    assert events == ["fsync", "replace"]

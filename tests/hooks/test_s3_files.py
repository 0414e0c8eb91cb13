"""The s3:// filesystem of the run-file store, against moto's server on loopback: what the sync
and the UI page ask of it (list one level or all below, read, write whole objects, delete)."""

from __future__ import annotations

import pytest

from agentjobs.hooks.s3_files import S3Files
from tests.delivery.conftest import _moto_endpoint, s3_server  # noqa: F401


@pytest.fixture
def fs(s3_server) -> tuple[S3Files, str]:  # noqa: F811
    return S3Files(conn_id=s3_server.conn_id), s3_server.bucket


def test_a_written_file_reads_back_whole_and_lists_with_its_size(fs):
    files, bucket = fs
    files.pipe_file(f"s3://{bucket}/run/team-a/digest.md", b"# Digest\n")
    with files.open(f"s3://{bucket}/run/team-a/notes.txt", "wb") as handle:
        handle.write(b"one ")
        handle.write(b"object")

    assert files.cat_file(f"s3://{bucket}/run/team-a/notes.txt") == b"one object"
    assert files.cat_file(f"{bucket}/run/team-a/digest.md", start=2) == b"Digest\n"
    listed = {entry["name"]: entry for entry in files.ls(f"s3://{bucket}/run/team-a")}
    assert {name: entry["size"] for name, entry in listed.items()} == {
        f"{bucket}/run/team-a/digest.md": 9,
        f"{bucket}/run/team-a/notes.txt": 10,
    }


def test_one_level_lists_sub_folders_and_find_walks_every_file_below(fs):
    files, bucket = fs
    for key in ("run/a.md", "run/team-a/x.json", "run/team-b/deep/y.json"):
        files.pipe_file(f"s3://{bucket}/{key}", b"{}")

    top = {(entry["name"], entry["type"]) for entry in files.ls(f"s3://{bucket}/run")}
    assert top == {
        (f"{bucket}/run/a.md", "file"),
        (f"{bucket}/run/team-a", "directory"),
        (f"{bucket}/run/team-b", "directory"),
    }
    assert sorted(files.find(f"s3://{bucket}/run")) == [
        f"{bucket}/run/a.md",
        f"{bucket}/run/team-a/x.json",
        f"{bucket}/run/team-b/deep/y.json",
    ]


def test_a_missing_file_is_absent_and_a_deleted_one_is_gone(fs):
    files, bucket = fs
    path = f"s3://{bucket}/run/done.json"
    assert not files.exists(path)
    with pytest.raises(FileNotFoundError):
        files.cat_file(path)
    files.pipe_file(path, b"{}")
    assert files.exists(path) and files.info(path)["type"] == "file"
    assert files.info(f"s3://{bucket}/run")["type"] == "directory"
    files.rm_file(path)
    assert not files.exists(path)
    with pytest.raises(FileNotFoundError):
        files.ls(f"s3://{bucket}/run/nothing-here")


def test_a_bucket_that_refuses_is_an_error_not_an_absent_file(fs):
    # A refused read taken for "absent" would start a task from nothing and pay the model again.
    files, _ = fs
    with pytest.raises(Exception, match="NoSuchBucket"):
        files.exists("s3://no-such-bucket-at-all/run/done.json")

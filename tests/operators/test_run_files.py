"""The run-file store's sync (operators/run_files.py): pull a folder into a scratch copy, push back
only what the task changed, on a file:// store and on S3 (moto's server on loopback)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path, PurePosixPath

import pytest

from agentjobs.hooks.run_file_store import RunFileStore, configured_store
from agentjobs.jobs.artifacts import artifact_base, dag_folder
from agentjobs.operators.run_files import local_copy, pull, push, recorded, task_files

RUN = PurePosixPath("tally/team-a/2026-11-24")


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path, monkeypatch) -> RunFileStore:
    """A run-file store, configured as a deployment would: a folder on disk, or a moto bucket."""
    if request.param == "file":
        url, conn_id = (tmp_path / "store").as_uri(), None
    else:
        s3 = request.getfixturevalue("s3_server")
        url, conn_id = f"s3://{s3.bucket}/runs-{uuid.uuid4().hex[:6]}", s3.conn_id
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", url)
    if conn_id:
        monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES_CONN_ID", conn_id)
    found = configured_store()
    assert found == RunFileStore(url, conn_id)
    return found


def put(store: RunFileStore, relative: str, data: bytes) -> None:
    remote = store.remote(PurePosixPath(relative).parent)
    remote.fs.makedirs(remote.root, exist_ok=True)
    remote.fs.pipe_file(remote.of(PurePosixPath(relative).name), data)


def stored(store: RunFileStore, folder: PurePosixPath) -> dict[str, bytes]:
    remote = store.remote(folder)
    return {name: remote.fs.cat_file(remote.of(name)) for name in remote.files()}


def test_pull_copies_the_folder_and_push_writes_only_what_changed_and_deletes_what_was_removed(
    store, tmp_path
):
    put(store, f"{RUN}/tally.md", b"# old\n")
    put(store, f"{RUN}/sources/sql.json", b'{"rows": 1}')
    put(store, f"{RUN}/sources/contract-error.txt", b"stale")
    put(store, "tally/team-b/2026-11-24/tally.md", b"# team b\n")  # another team's: never touched
    local = tmp_path / "scratch" / "run"
    (local / "left-over").mkdir(parents=True)
    (local / "left-over" / "x.txt").write_text("from an earlier task on this host")

    before = pull(store.remote(RUN), local)
    assert sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()) == [
        "sources/contract-error.txt",
        "sources/sql.json",
        "tally.md",
    ]
    assert before["tally.md"] == hashlib.sha256(b"# old\n").hexdigest()

    # The task: rewrites the artifact, removes the contract error, adds a transcript. Meanwhile
    # another task of the run folder replaced the snapshot on the store: not undone by this push.
    (local / "tally.md").write_bytes(b"# new\n")
    (local / "sources" / "contract-error.txt").unlink()
    (local / "transcript.jsonl").write_text('{"event": "call"}\n')
    put(store, f"{RUN}/sources/sql.json", b'{"rows": 2}')

    pushed = push(local, store.remote(RUN), before)
    assert (pushed.written, pushed.deleted) == (
        ["tally.md", "transcript.jsonl"],
        ["sources/contract-error.txt"],
    )
    assert stored(store, RUN) == {
        "tally.md": b"# new\n",
        "transcript.jsonl": b'{"event": "call"}\n',
        "sources/sql.json": b'{"rows": 2}',
    }
    assert stored(store, PurePosixPath("tally/team-b/2026-11-24")) == {"tally.md": b"# team b\n"}
    # The same files through Airflow's ObjectStoragePath, as a user's own task would read them.
    assert store.path(RUN / "tally.md").read_bytes() == b"# new\n"
    assert push(local, store.remote(RUN), pull(store.remote(RUN), local)) == type(pushed)([], [])


def test_a_task_works_in_a_scratch_copy_of_its_own_and_a_failed_try_still_pushes_its_transcript(store):
    base = artifact_base()
    put(store, f"{RUN}/sources/sql.json", b"{}")
    seen: dict[str, Path] = {}
    with pytest.raises(RuntimeError, match="the model is down"):
        with task_files(lambda: [dag_folder("tally") / "team-a" / "2026-11-24"]):
            folder = dag_folder("tally") / "team-a" / "2026-11-24"
            seen["scratch"] = artifact_base()
            assert seen["scratch"] != base and (folder / "sources" / "sql.json").read_bytes() == b"{}"
            (folder / "transcript.jsonl").write_text('{"event": "error"}\n')
            # Other tasks are handed the store's name of a file; each reads its own copy of it.
            name = recorded(folder / "transcript.jsonl")
            assert name == f"{store.url}/{RUN}/transcript.jsonl"
            assert local_copy(name) == folder / "transcript.jsonl"
            raise RuntimeError("the model is down")
    assert stored(store, RUN)["transcript.jsonl"] == b'{"event": "error"}\n'
    assert not seen["scratch"].exists() and artifact_base() == base


def test_without_a_store_a_task_works_in_the_local_artifact_base_as_before(monkeypatch):
    monkeypatch.delenv("AIRFLOW__AGENTJOBS__RUN_FILES", raising=False)
    assert configured_store() is None
    folder = dag_folder("tally") / "team-a" / "2026-11-24"
    with task_files(lambda: [folder]):
        assert dag_folder("tally") / "team-a" / "2026-11-24" == folder
        assert recorded(folder / "tally.md") == str(folder / "tally.md")
    assert local_copy(str(folder / "tally.md")) == folder / "tally.md"


def test_a_name_outside_the_store_is_read_as_a_local_path(store):
    assert local_copy("/elsewhere/tally.md") == Path("/elsewhere/tally.md")
    assert local_copy(f"{store.url}/../escape.md") == Path(f"{store.url}/../escape.md")


def test_a_store_that_refuses_is_an_error_not_an_empty_folder(s3_server, tmp_path):
    # A task must not start from nothing (and pay the model again) because the store said no.
    missing = RunFileStore(f"s3://no-such-bucket-{uuid.uuid4().hex[:6]}/runs", s3_server.conn_id)
    with pytest.raises(Exception, match="NoSuchBucket"):
        pull(missing.remote(RUN), tmp_path / "scratch")


class _Ti:
    """The task instance fields a try's context carries (dag, run, task, map index, try)."""

    def __init__(self, task_id: str, try_number: int, map_index: int = -1) -> None:
        self.dag_id, self.run_id, self.task_id = "tally", "scheduled__2026-11-24T00:00:00+00:00", task_id
        self.map_index, self.try_number = map_index, try_number


def test_a_try_removes_the_scratch_copies_its_killed_earlier_tries_left_and_no_others(
    store, tmp_path, monkeypatch
):
    import tempfile

    from agentjobs.operators.run_files import TryKey

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def left_by(ti: _Ti) -> Path:
        """What a try SIGKILLed mid-task leaves: its scratch copy, the team's snapshot in it."""
        folder = Path(tempfile.mkdtemp(prefix=TryKey.of({"ti": ti}).prefix))
        (folder / "sources").mkdir()
        (folder / "sources" / "sql.json").write_text("{}")
        return folder

    killed = [left_by(_Ti("team.summarize", 1, map_index=0)), left_by(_Ti("team.summarize", 2, map_index=0))]
    others = [
        left_by(_Ti("team.summarize", 1, map_index=1)),  # another team of the run
        left_by(_Ti("team.validate", 1, map_index=0)),  # another task
        left_by(_Ti("team.summarize", 4, map_index=0)),  # not an earlier try
    ]
    put(store, f"{RUN}/sources/sql.json", b"{}")
    with task_files(
        lambda: [dag_folder("tally") / "team-a" / "2026-11-24"], {"ti": _Ti("team.summarize", 3, 0)}
    ):
        mine = artifact_base()
        assert mine.name.startswith(TryKey.of({"ti": _Ti("team.summarize", 3, 0)}).prefix)
        assert not any(folder.exists() for folder in killed)
    assert all(folder.exists() for folder in others) and not mine.exists()

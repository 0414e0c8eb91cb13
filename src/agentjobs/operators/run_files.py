"""A task's run files on the run-file store (hooks/run_file_store.py), when one is configured.

Tasks hand files to each other through their run folder (the snapshot, the artifact, the
transcript, result.json, done.json). With a store configured, no task relies on the last one's
disk: each task try works in a scratch copy of its own, private to it:

- before it works, it **pulls** its folder from the store: the run's folder for a run-level
  task, only its team's folder for a per-team task (team tasks run side by side, and none
  should see, or overwrite, another team's files);
- after, also when it fails or defers, it **pushes** back what it wrote: the files it added or
  changed, and the deletion of those it removed (a stale artifact, an old contract error).
  Files it did not touch are left as the store has them, so two tasks of one run folder (the
  digest's fetch tasks) never undo each other's work.

So a retry on another host finds the transcript and the files the first try left, and the
ledger's integrity check holds across hosts: the artifact's bytes are the ones validated.
Paths handed on through XCom are the store's URIs (`recorded`); a task reading one gets its
own scratch copy of that file (`local_copy`). Unset, every function here is the identity and
a task works in the local artifact base as before.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from agentjobs.hooks.run_file_store import Remote, RunFileStore, configured_store
from agentjobs.jobs.artifacts import artifact_base, relative_folder, scratch_base

Manifest = dict[str, str]  # a folder's files: relative POSIX path → sha256
log = logging.getLogger(__name__)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def local_manifest(folder: Path) -> Manifest:
    """The sha256 of every regular file below `folder`, by relative path."""
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).as_posix(): _sha256(path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def pull(remote: Remote, local: Path) -> Manifest:
    """Make `local` an exact copy of the store's folder `remote` (nothing else in it); returns
    what was copied, the base `push` compares against."""
    if local.exists():
        shutil.rmtree(local)
    local.mkdir(parents=True)
    copied: Manifest = {}
    for name in sorted(remote.files()):
        relative = PurePosixPath(name)
        if any(part in ("", ".", "..") for part in name.split("/")):
            continue  # a key no folder can hold (S3 allows 'a/../b'): never written outside `local`
        data = remote.fs.cat_file(remote.of(name))
        target = local / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        copied[relative.as_posix()] = _sha256(data)
    return copied


@dataclass(frozen=True)
class Pushed:
    written: list[str]
    deleted: list[str]


def push(local: Path, remote: Remote, before: Manifest) -> Pushed:
    """Write to the store what changed in `local` since it was pulled as `before`: new and
    changed files, and the deletion of files removed. An object store's put is whole, so a
    reader sees the old file or the new one, never half of it."""
    now = local_manifest(local)
    written = sorted(name for name, sha in now.items() if before.get(name) != sha)
    deleted = sorted(set(before) - set(now))
    for name in written:
        target = remote.of(name)
        remote.fs.makedirs(target.rpartition("/")[0], exist_ok=True)  # a local store needs its folders
        remote.fs.pipe_file(target, (local / name).read_bytes())
    for name in deleted:
        if remote.fs.exists(remote.of(name)):
            remote.fs.rm_file(remote.of(name))
    return Pushed(written, deleted)


@dataclass
class TaskFiles:
    """One task try's scratch copy of the folders it pulled, and what each held when pulled."""

    store: RunFileStore
    scratch: Path
    pulled: dict[PurePosixPath, Manifest] = field(default_factory=dict)

    def pull(self, folder: Path) -> None:
        """Copy the store's version of `folder` (a run folder below the scratch base) here."""
        relative = relative_folder(folder)
        if relative is None:
            log.info(
                "%s is not a run folder of the artifact base: not synced with %s", folder, self.store.url
            )
            return
        if relative in self.pulled or any(p in relative.parents for p in self.pulled):
            return  # already here, in itself or in a folder holding it
        self.pulled[relative] = pull(self.store.remote(relative), self.scratch / relative)
        log.info("Pulled %d file(s) of %s", len(self.pulled[relative]), self.store.uri(relative))

    def push_file(self, path: Path) -> bool:
        """Write one file of a pulled folder to the store now, e.g. the transcript after a paid
        model call, so a try killed later (SIGKILL runs no push) has left it for the retry,
        wherever that runs. Its `before` is moved on, so the end-of-try push skips it unchanged."""
        for relative, before in self.pulled.items():
            folder = self.scratch / relative
            if folder in path.parents and path.is_file():
                name = path.relative_to(folder).as_posix()
                data = path.read_bytes()
                remote = self.store.remote(relative)
                target = remote.of(name)
                remote.fs.makedirs(target.rpartition("/")[0], exist_ok=True)  # a local store's folders
                remote.fs.pipe_file(target, data)
                before[name] = _sha256(data)
                return True
        return False

    def push(self) -> None:
        for relative, before in self.pulled.items():
            pushed = push(self.scratch / relative, self.store.remote(relative), before)
            if pushed.written or pushed.deleted:
                log.info(
                    "Pushed to %s: %s%s",
                    self.store.uri(relative),
                    ", ".join(pushed.written) or "nothing new",
                    f"; deleted {', '.join(pushed.deleted)}" if pushed.deleted else "",
                )


_CURRENT: ContextVar[TaskFiles | None] = ContextVar("agentjobs_task_files", default=None)


SCRATCH_PREFIX = "agentjobs-run-files-"


@dataclass(frozen=True)
class TryKey:
    """Which task instance's try a scratch copy belongs to: its folder's name says so, so a later
    try of the same task instance can remove what a killed one left behind."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int

    @classmethod
    def of(cls, context: Any) -> TryKey | None:
        ti = context.get("ti") if hasattr(context, "get") else None
        if ti is None:
            return None
        return cls(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)

    @property
    def instance(self) -> str:
        # Hashed: run ids hold ':' and '+', and a name must be short and safe in any temp folder.
        name = f"{self.dag_id}\0{self.run_id}\0{self.task_id}\0{self.map_index}"
        return hashlib.sha256(name.encode()).hexdigest()[:20]

    @property
    def prefix(self) -> str:
        return f"{SCRATCH_PREFIX}{self.instance}-try{self.try_number}-"


_TRY = re.compile(r"-try(\d+)-")


def sweep_earlier_tries(key: TryKey, temp: Path) -> list[Path]:
    """Remove the scratch copies earlier tries of this task instance left in `temp` (a try killed
    with SIGKILL runs no cleanup). Only this task instance's, and only earlier tries': Airflow
    starts a try only once the one before it has ended, so none of them is still in use."""
    swept = []
    for folder in temp.glob(f"{SCRATCH_PREFIX}{key.instance}-try*"):
        found = _TRY.match(folder.name[len(SCRATCH_PREFIX) + len(key.instance) :])
        if found and int(found.group(1)) < key.try_number and folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder)
    if swept:
        log.info("Removed %d scratch cop(ies) an earlier try of this task left: %s", len(swept), swept)
    return swept


@contextmanager
def task_files(folders: Callable[[], Iterable[Path]], context: Any = None) -> Iterator[None]:
    """Run the block in a scratch copy of `folders` (computed inside it, so they name the
    scratch copy) pulled from the store, and push back what changed, whatever the block's end.
    Without a store: the block as it is, in the local artifact base. With the task's `context`,
    the copy is named after its try and the copies of its earlier tries on this host are removed."""
    store = configured_store()
    if store is None:
        yield
        return
    key = TryKey.of(context) if context is not None else None
    if key is not None:
        sweep_earlier_tries(key, Path(tempfile.gettempdir()))
    files = TaskFiles(store, Path(tempfile.mkdtemp(prefix=key.prefix if key else SCRATCH_PREFIX)))
    token = _CURRENT.set(files)
    try:
        with scratch_base(files.scratch):
            try:
                for folder in folders():
                    files.pull(folder)
                yield
            except BaseException:
                # Failed, deferred or timed out: what this try wrote (its transcript) is kept for the
                # next one, wherever it runs; a failing push must not hide why the task ended.
                try:
                    files.push()
                except Exception:
                    log.exception("Could not push the run files of a failed try to %s", store.url)
                raise
            files.push()
    finally:
        _CURRENT.reset(token)
        shutil.rmtree(files.scratch, ignore_errors=True)


def pull_folder(folder: Path) -> None:
    """Pull one more folder into the running task's scratch copy (a task that learns its folders
    as it goes: the fan-out fetch, one per team it serves). No store: nothing to do."""
    files = _CURRENT.get()
    if files is not None:
        files.pull(folder)


def push_file(path: Path) -> None:
    """Push one file of the running task's scratch copy to the store now (TaskFiles.push_file).
    No store, or a file outside the folders it pulled: nothing to do."""
    files = _CURRENT.get()
    if files is None:
        return
    try:
        files.push_file(path)
    except Exception:
        # The try goes on: the push at its end writes the file again (only a kill loses it).
        log.warning(
            "Could not push %s to %s now; it is pushed when the try ends",
            path,
            files.store.url,
            exc_info=True,
        )


def recorded(path: Path) -> str:
    """How a run file is named to other tasks (XCom): its URI on the store, else its local path."""
    store = configured_store()
    relative = relative_folder(path) if store is not None else None
    return store.uri(relative) if store is not None and relative is not None else str(path)


def run_files_conn_id() -> str | None:
    store = configured_store()
    return store.conn_id if store is not None else None


def local_copy(name: str) -> Path:
    """This task's copy of a run file another task `recorded`: in its scratch copy when the name
    is the store's, else the path as it is."""
    store = configured_store()
    relative = store.relative(name) if store is not None else None
    return artifact_base() / relative if relative is not None else Path(name)

"""The run-file store: where a run's files live when its tasks may run on different hosts.

Set in Airflow's configuration, as remote task logs are (`[logging] remote_base_log_folder` and
`remote_log_conn_id`):

    [agentjobs]
    run_files = s3://my-bucket/agentjobs          # AIRFLOW__AGENTJOBS__RUN_FILES
    run_files_conn_id = aws_default               # AIRFLOW__AGENTJOBS__RUN_FILES_CONN_ID

Any URL Airflow's `ObjectStoragePath` reaches works (`s3://` through the amazon provider's
connection, `gs://`, `file:///shared/folder`). Unset, run files stay in the local artifact base
(`$AGENTJOBS_ARTIFACT_BASE`), as they always did. Each run folder keeps its place below the
base: `<run_files>/<dag_id>/<day>/` and `<run_files>/<dag_id>/<team>/<period>/`.

The sync (pull into a scratch copy, push back) is operators/run_files.py; the UI page reads the
store directly (ui/files.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from agentjobs.airflow_config import SECTION, value

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath
    from fsspec import AbstractFileSystem

FOLDER_OPTION = "run_files"
CONN_OPTION = "run_files_conn_id"
S3_SCHEMES = ("s3", "s3a")
LOCAL_SCHEMES = ("file", "local")


class RunFileStoreError(ValueError):
    """The configured run-file store cannot be used as it is written."""


@dataclass(frozen=True)
class RunFileStore:
    url: str  # as configured, without a trailing '/': what logs and XCom show
    conn_id: str | None  # None: the provider's default connection

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0]

    def path(self, relative: PurePosixPath | None = None) -> ObjectStoragePath:
        """The store's folder (or `relative` below it) as an ObjectStoragePath."""
        from airflow.sdk import ObjectStoragePath  # at run time: a DAG parse never needs it

        self._attach()
        root = ObjectStoragePath(self.url, conn_id=self.conn_id)
        return root / str(relative) if relative is not None else root

    def filesystem(self) -> AbstractFileSystem:
        """The fsspec filesystem ObjectStoragePath reaches the store through."""
        return self._attach().fs

    def remote(self, relative: PurePosixPath | None = None) -> Remote:
        """A folder of the store as its filesystem names it."""
        fs = self.filesystem()
        return Remote(fs, fs._strip_protocol(self.uri(relative) if relative is not None else self.url))

    def _attach(self) -> Any:
        """Airflow's store for the URL's scheme and connection; for s3://, with S3Files as its
        filesystem (s3fs, Airflow's, cannot be installed here: hooks/s3_files.py)."""
        from airflow.sdk.io.store import attach

        store = attach(protocol=self.scheme, conn_id=self.conn_id)
        if self.scheme in S3_SCHEMES and not _is_s3_files(store.__dict__.get("fs")):
            from agentjobs.hooks.s3_files import S3Files

            store.fs = S3Files(self.conn_id)  # a cached_property: set before anything reads it
        return store

    def uri(self, relative: PurePosixPath) -> str:
        return f"{self.url}/{relative}"

    def relative(self, uri: str) -> PurePosixPath | None:
        """`uri` below the store as a relative path, or None when it is not one of the store's."""
        prefix = f"{self.url}/"
        if not uri.startswith(prefix):
            return None
        relative = PurePosixPath(uri[len(prefix) :])
        # 'runs//x' reads as the absolute '/x', which a local scratch folder would not hold.
        if relative.is_absolute() or not relative.parts or any(p in ("", ".", "..") for p in relative.parts):
            return None
        return relative


@dataclass(frozen=True)
class Remote:
    """A folder of the store: its filesystem, and its path as that filesystem names it."""

    fs: AbstractFileSystem
    root: str  # 'bucket/prefix/<dag_id>/...' on S3, '/shared/<dag_id>/...' on file://

    def of(self, name: str) -> str:
        return f"{self.root}/{name}"

    def files(self) -> dict[str, int]:
        """Every file below the folder (relative POSIX path → bytes); none when it is absent."""
        # find, not exists() first: fsspec's exists() takes any error (a refused credential) for
        # "absent", and a task must not start from an empty folder because the store said no.
        try:
            found = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return {}
        prefix = f"{self.root.rstrip('/')}/"
        return {
            name[len(prefix) :]: int(info.get("size") or 0)
            for name, info in found.items()
            if name.startswith(prefix) and info.get("type") == "file"
        }


def _is_s3_files(fs: Any) -> bool:
    from agentjobs.hooks.s3_files import S3Files

    return isinstance(fs, S3Files)


def configured_store() -> RunFileStore | None:
    """The store Airflow's configuration names, or None (run files stay on local disk)."""
    url = value(FOLDER_OPTION)
    if not url:
        return None
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or not rest.strip("/"):
        raise RunFileStoreError(
            f"[{SECTION}] {FOLDER_OPTION} = {url!r} is not a URL of a folder; write e.g. "
            "s3://bucket/prefix or file:///shared/folder"
        )
    if "@" in rest.partition("/")[0]:
        # Credentials or a connection in the URL would reach logs and XCom with every path.
        raise RunFileStoreError(
            f"[{SECTION}] {FOLDER_OPTION} must not hold a user or connection before its host; "
            f"name the connection in [{SECTION}] {CONN_OPTION}"
        )
    scheme = scheme.lower()  # URL schemes are case-blind; Airflow's filesystems are registered lower-case
    if scheme in LOCAL_SCHEMES and not rest.startswith("/"):
        # fsspec reads file://shared/runs as the relative ./shared/runs: each process's working
        # folder, so the tasks of one run would each find a folder of their own.
        raise RunFileStoreError(
            f"[{SECTION}] {FOLDER_OPTION} = {url!r} names a relative folder; write the absolute "
            f"one with three slashes, e.g. {scheme}:///{rest}"
        )
    if scheme in S3_SCHEMES:
        _check_bucket(url, rest.partition("/")[0])
    if not _serves(scheme):
        raise RunFileStoreError(
            f"[{SECTION}] {FOLDER_OPTION} = {url!r}: no installed filesystem serves {scheme}://; "
            "use s3:// (apache-airflow-providers-amazon) or file:///, or install the Airflow "
            f"provider that brings {scheme}:// (e.g. apache-airflow-providers-google for gs://)"
        )
    return RunFileStore(f"{scheme}://{rest}".rstrip("/"), value(CONN_OPTION) or None)


def _check_bucket(url: str, bucket: str) -> None:
    """S3 would refuse the bucket at the first task's first file; say so where it is configured."""
    from agentjobs.jobs.channels.s3 import bucket_refusal

    refusal = bucket_refusal(bucket)
    if refusal is not None:
        raise RunFileStoreError(f"[{SECTION}] {FOLDER_OPTION} = {url!r}: {refusal}")


def _serves(scheme: str) -> bool:
    """Whether Airflow's object storage has a filesystem for `scheme` (from an installed provider,
    or fsspec's local one); else the first task to touch run files failed on an error naming
    neither the option nor the fix."""
    try:
        from airflow.sdk.io.fs import has_fs
    except ImportError:  # no Airflow to ask: the store's first use says it
        return True
    return has_fs(scheme)

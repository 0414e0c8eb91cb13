"""The s3:// filesystem of the run-file store: the few fsspec operations it needs, over boto3.

Airflow's ObjectStoragePath reaches S3 through s3fs, whose aiobotocore pins a botocore older
than the one the amazon provider resolves here (see delivery/report_store.py), so s3fs cannot be
installed beside it. This filesystem takes its client from the amazon provider's S3Hook (the
connection's credentials, region and `endpoint_url`) and is attached to ObjectStoragePath for
the store's `s3://` URLs (hooks/run_file_store.py). It implements what the sync and the UI page
use: list a folder (one level or all below it), read, write and delete a whole object. Attaching
it is process-wide: any ObjectStoragePath of the store's scheme and connection uses it then.
"""

from __future__ import annotations

import io
from typing import Any

from fsspec import AbstractFileSystem


class S3Files(AbstractFileSystem):
    protocol = ("s3", "s3a")
    root_marker = ""
    cachable = False  # one per connection, held by the store's attach

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            hook = S3Hook(aws_conn_id=self.conn_id) if self.conn_id else S3Hook()
            self._client = hook.get_conn()
        return self._client

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = str(path)
        for scheme in cls.protocol:
            if text.startswith(f"{scheme}://"):
                text = text[len(scheme) + 3 :]
        return text.rstrip("/")

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        bucket, _, key = path.partition("/")
        return bucket, key

    def _objects(self, path: str, delimiter: str | None) -> tuple[list[dict[str, Any]], list[str]]:
        """The objects below `path` (one level when `delimiter`), and the sub-folders found."""
        bucket, key = self._split(self._strip_protocol(path))
        prefix = f"{key}/" if key else ""
        args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        files: list[dict[str, Any]] = []
        folders: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(**args):
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):  # a console-made 'folder' marker is no file
                    files.append({"name": f"{bucket}/{obj['Key']}", "size": obj["Size"], "type": "file"})
            folders.extend(f"{bucket}/{p['Prefix'].rstrip('/')}" for p in page.get("CommonPrefixes", []))
        return files, folders

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        files, folders = self._objects(path, "/")
        entries = files + [{"name": name, "size": 0, "type": "directory"} for name in folders]
        if not entries:
            entries = [self.info(path)]  # a file lists as itself; nothing at all raises
        return entries if detail else [entry["name"] for entry in entries]

    def find(
        self, path: str, maxdepth: int | None = None, withdirs: bool = False, detail: bool = False, **kw: Any
    ) -> Any:
        if maxdepth is not None or withdirs:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kw)
        files, _ = self._objects(path, None)
        if detail:
            return {entry["name"]: entry for entry in files}
        return [entry["name"] for entry in files]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        stripped = self._strip_protocol(path)
        bucket, key = self._split(stripped)
        if key:
            try:
                head = self.client.head_object(Bucket=bucket, Key=key)
            except self.client.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                    raise
            else:
                return {"name": stripped, "size": head["ContentLength"], "type": "file"}
        listed = self.client.list_objects_v2(Bucket=bucket, Prefix=f"{key}/" if key else "", MaxKeys=1)
        if listed.get("KeyCount", 0) or not key:
            return {"name": stripped, "size": 0, "type": "directory"}
        raise FileNotFoundError(path)

    def exists(self, path: str, **kwargs: Any) -> bool:
        """Absent is False; any other error (a refused credential) is raised, not taken for absent."""
        try:
            self.info(path)
        except FileNotFoundError:
            return False
        return True

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        bucket, key = self._split(self._strip_protocol(path))
        try:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(path) from None
        return body[start:end]

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        bucket, key = self._split(self._strip_protocol(path))
        self.client.put_object(Bucket=bucket, Key=key, Body=value)  # one put: never half a file

    def rm_file(self, path: str) -> None:
        bucket, key = self._split(self._strip_protocol(path))
        self.client.delete_object(Bucket=bucket, Key=key)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """S3 has no folders: a key's prefix is enough."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """S3 has no folders: a key's prefix is enough."""

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if "r" in mode:
            return io.BytesIO(self.cat_file(path))
        if "w" in mode:
            return _Upload(self, path)
        raise ValueError(f"mode {mode!r} is not supported on the run-file store")


class _Upload(io.BytesIO):
    """A file opened for writing: put as one object when closed."""

    def __init__(self, fs: S3Files, path: str) -> None:
        super().__init__()
        self._fs, self._path = fs, path

    def close(self) -> None:
        if not self.closed:
            self._fs.pipe_file(self._path, self.getvalue())
        super().close()

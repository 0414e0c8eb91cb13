"""Store a rendered document once: a local file (written atomically) or an S3 object (S3Hook).

A report is stored once per team and month. A retry or a rerun renders the same bytes (the PDF
is deterministic), finds them there and writes nothing; different bytes under the same name are
refused with ReportConflict unless `replace` (the run's force_redeliver) says to overwrite, so
a second, different report never replaces the first silently.

S3 goes through the Amazon provider's S3Hook, not ObjectStoragePath: ObjectStoragePath's s3://
needs s3fs, whose aiobotocore pins botocore below the version the provider resolves here
(aiobotocore 3.10 wants botocore<1.43.118; the constraints pin 1.44.8).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agentjobs.atomic_file import write_atomically


class ReportConflict(ValueError):
    """Another document is already stored under the report's name (the publish task fails at once)."""


@dataclass(frozen=True)
class Location:
    uri: str  # s3://bucket/key or file:///path: what the team's message links to

    @property
    def scheme(self) -> str:
        return urlsplit(self.uri).scheme

    @property
    def path(self) -> Path:
        return Path(urlsplit(self.uri).path)

    @property
    def bucket_key(self) -> tuple[str, str]:
        parts = urlsplit(self.uri)
        return parts.netloc, parts.path.lstrip("/")


def location(storage: str | None, run_folder: Path, team_id: str, name: str) -> Location:
    """`<storage>/<team id>/<name>`; no storage: `name` in the team's run folder."""
    if storage is None:
        return Location((run_folder / name).resolve().as_uri())
    return Location(f"{storage.rstrip('/')}/{team_id}/{name}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_once(
    where: Location, data: bytes, *, conn_id: str | None = None, replace: bool = False
) -> dict[str, Any]:
    """Put `data` at `where` unless it holds exactly that; the receipt names the object and its sha256."""
    if where.scheme == "file":
        existing = where.path.read_bytes() if where.path.is_file() else None
        written = _settle(where, existing, data, replace)
        if written:
            where.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(where.path, data)
    elif where.scheme == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id=conn_id) if conn_id else S3Hook()
        bucket, key = where.bucket_key
        existing = hook.get_key(key, bucket).get()["Body"].read() if hook.check_for_key(key, bucket) else None
        written = _settle(where, existing, data, replace)
        if written:
            # One put of the complete bytes: S3 never shows a half-written object.
            hook.load_bytes(data, key=key, bucket_name=bucket, replace=replace or existing is not None)
    else:
        raise ValueError(f"cannot store to {where.uri!r}; use s3:// or file://")
    return {"uri": where.uri, "sha256": _sha(data), "bytes": len(data), "written": written}


def _settle(where: Location, existing: bytes | None, data: bytes, replace: bool) -> bool:
    """Whether to write: nothing there, or `replace`; the same bytes are left alone."""
    if existing is None:
        return True
    if existing == data:
        return False
    if replace:
        return True
    raise ReportConflict(
        f"{where.uri} already holds another document (sha256 {_sha(existing)}, this one {_sha(data)}); "
        "trigger the run with force_redeliver=true to replace it, or remove it"
    )

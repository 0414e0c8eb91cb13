"""S3 delivery on the Amazon provider's S3Hook.

Layout under `prefix`:  <prefix>/<dag_id>/<YYYY-MM-DD>.md  and the snapshots it was written
from in  <prefix>/<dag_id>/<YYYY-MM-DD>/sources/<name>.json. The snapshots go first and the
digest last, so a digest that is there always has its sources next to it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from agentjobs.jobs.channels.s3 import digest_key  # the key is the spec's ledger target too


def send_s3(
    *,
    aws_conn_id: str | None,
    bucket: str,
    prefix: str,
    dag_id: str,
    logical_date: str | date,
    artifact: Path,
    sources_dir: Path | None = None,
) -> dict[str, Any]:
    """Upload the digest (and the *.json in sources_dir); receipt {"bucket", "key", "etag", "sources"}."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=aws_conn_id)
    key = digest_key(prefix, dag_id, logical_date)
    folder = key.removesuffix(".md")
    sources: list[str] = []
    for snapshot in sorted(sources_dir.glob("*.json")) if sources_dir else []:
        source_key = f"{folder}/sources/{snapshot.name}"
        hook.load_string(_text(snapshot), key=source_key, bucket_name=bucket, replace=True)
        sources.append(source_key)
    hook.load_string(_text(artifact), key=key, bucket_name=bucket, replace=True)
    # load_string returns nothing; the ETag proves which version landed.
    head = hook.head_object(key=key, bucket_name=bucket) or {}
    return {"bucket": bucket, "key": key, "etag": str(head.get("ETag", "")).strip('"'), "sources": sources}


def _text(path: Path) -> str:
    # Not read_text(): it would turn \r\n into \n, and the object must equal the file byte for byte.
    return path.read_bytes().decode("utf-8")

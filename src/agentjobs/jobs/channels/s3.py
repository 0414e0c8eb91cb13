"""`type: s3`: the artifact and its snapshots as objects under `<prefix>/<dag_id>/<day>.md`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from agentjobs.jobs.channels.base import ChannelSpec


def digest_key(prefix: str, dag_id: str, logical_date: str | date) -> str:
    """The artifact's object key; its snapshots go beside it (delivery/s3.py)."""
    if isinstance(logical_date, datetime):
        day = logical_date.date().isoformat()
    elif isinstance(logical_date, date):
        day = logical_date.isoformat()
    else:
        day = date.fromisoformat(logical_date).isoformat()  # validated: a key never holds a path
    return "/".join(p for p in (prefix.strip("/"), dag_id, f"{day}.md") if p)


class S3Channel(ChannelSpec):
    type: Literal["s3"]
    conn_id: str = "aws_default"
    bucket: str
    prefix: str = "reports"

    def target(self, job: str, day: str) -> str:
        return f"s3://{self.bucket}/{digest_key(self.prefix, job, day)}"


CHANNEL = S3Channel

"""S3: the artifact and the snapshots it was written from, over the Amazon provider (delivery/s3.py)."""

from __future__ import annotations

from typing import Any, Literal

from agentjobs.delivery.channels.base import ChannelSpec, Message


class S3Channel(ChannelSpec):
    type: Literal["s3"]
    conn_id: str = "aws_default"
    bucket: str
    prefix: str = "reports"

    def target(self, job: str, day: str) -> str:
        return f"s3://{self.bucket}/{self.render_key(job, day)}"

    def render_key(self, job: str, day: str) -> str:
        from agentjobs.delivery.s3 import digest_key

        return digest_key(self.prefix, job, day)

    def render(self, message: Message) -> str:
        """The object key the artifact goes to."""
        return self.render_key(message.job, message.day)

    def send(self, message: Message) -> dict[str, Any]:
        from agentjobs.delivery.s3 import send_s3
        from agentjobs.sources.snapshot import SOURCES_DIR

        return send_s3(
            aws_conn_id=self.conn_id,
            bucket=self.bucket,
            prefix=self.prefix,
            dag_id=message.job,
            logical_date=message.day,
            artifact=message.artifact,
            sources_dir=message.artifact.parent / SOURCES_DIR,
        )


CHANNEL = S3Channel

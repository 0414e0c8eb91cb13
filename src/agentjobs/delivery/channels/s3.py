"""S3: the artifact and the snapshots it was written from, over the Amazon provider (delivery/s3.py)."""

from __future__ import annotations

from typing import Any

from agentjobs.delivery.channels.base import Channel, Message
from agentjobs.jobs.channels.s3 import S3Channel, digest_key


class S3Sender(Channel[S3Channel]):
    spec_model = S3Channel

    def render(self, message: Message) -> str:
        """The object key the artifact goes to."""
        return digest_key(self.spec.prefix, message.job, message.day)

    def send(self, message: Message) -> dict[str, Any]:
        from agentjobs.delivery.s3 import send_s3
        from agentjobs.sources.snapshot import SOURCES_DIR

        return send_s3(
            aws_conn_id=self.spec.conn_id,
            bucket=self.spec.bucket,
            prefix=self.spec.prefix,
            dag_id=message.job,
            logical_date=message.day,
            artifact=message.artifact,
            sources_dir=message.artifact.parent / SOURCES_DIR,
        )


CHANNEL = S3Sender

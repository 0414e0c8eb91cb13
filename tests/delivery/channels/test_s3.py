"""The S3 channel: the artifact under `<prefix>/<job>/<day>.md` and its snapshots beside it, in the
spec's bucket over its connection (the moto server on loopback)."""

from __future__ import annotations

from agentjobs.delivery.channels.base import Message
from agentjobs.delivery.channels.registry import channel_for
from agentjobs.jobs.channels.s3 import S3Channel


def test_the_artifact_and_its_snapshots_go_under_the_key_render_names(s3_server, artifact):
    spec = S3Channel(type="s3", conn_id=s3_server.conn_id, bucket=s3_server.bucket, prefix="/team/reports/")
    channel = channel_for(spec)
    sent = Message(
        job="weekly_insights",
        day="2026-11-28",
        title="Weekly insights — 2026-11-28",
        job_title="Weekly insights",
        markdown=artifact.read_text(),
        artifact=artifact,
    )
    key = channel.render(sent)
    assert key == "team/reports/weekly_insights/2026-11-28.md"
    assert channel.target("weekly_insights", "2026-11-28") == f"s3://{s3_server.bucket}/{key}"
    receipt = channel.send(sent)
    assert receipt["key"] == key
    client = s3_server.client()
    assert client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read() == artifact.read_bytes()
    listed = client.list_objects_v2(
        Bucket=s3_server.bucket, Prefix="team/reports/weekly_insights/2026-11-28/"
    )
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        "team/reports/weekly_insights/2026-11-28/sources/feeds.json",
        "team/reports/weekly_insights/2026-11-28/sources/github.json",
    ]

"""The Slack channel: the markdown as blocks under the message's title, to the spec's channel over
its connection (the fake Slack on loopback); a forced re-delivery edits only when the spec says so."""

from __future__ import annotations

from agentjobs.delivery.channels.base import Message
from agentjobs.delivery.channels.registry import channel_for
from agentjobs.jobs.channels.slack import SlackChannel
from tests.fakes.slack import WEBHOOK_PATH


def message(artifact, previous=None) -> Message:
    return Message(
        job="daily_digest",
        day="2026-11-24",
        title="Daily digest — 2026-11-24",
        job_title="Daily digest",
        markdown=artifact.read_text(),
        artifact=artifact,
        previous=previous,
    )


def test_the_blocks_carry_the_title_and_go_to_the_specs_channel(slack_server, artifact):
    channel = channel_for(SlackChannel(type="slack", conn_id=slack_server.api_conn_id, channel="#digest"))
    blocks = channel.render(message(artifact))
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"] == "Daily digest — 2026-11-24"
    receipt = channel.send(message(artifact))
    [posted] = slack_server.server.calls("/api/chat.postMessage")
    assert posted.params["channel"] == "#digest" and posted.params["blocks"] == blocks
    assert receipt["mode"] == "message" and receipt["channel"] == "C0DIGEST1"


def test_a_forced_redelivery_edits_the_previous_message_unless_the_spec_turns_it_off(slack_server, artifact):
    spec = SlackChannel(type="slack", conn_id=slack_server.api_conn_id, channel="#digest")
    channel = channel_for(spec)
    first = channel.send(message(artifact))
    assert channel.edits_on_redeliver()
    edited = channel.send(message(artifact, previous=first))
    assert edited == {"mode": "update", "channel": "C0DIGEST1", "ts": first["ts"]}
    [update] = slack_server.server.calls("/api/chat.update")
    assert update.params["ts"] == first["ts"]
    posting = channel_for(spec.model_copy(update={"update_on_redeliver": False}))
    assert not posting.edits_on_redeliver()


def test_an_alert_posts_its_subject_and_body_through_a_webhook(slack_server):
    spec = SlackChannel(type="slack", conn_id=slack_server.webhook_conn_id)
    channel_for(spec, alerting=True).alert("daily_digest failed", "summarize: HTTP 401")
    [posted] = slack_server.server.calls(WEBHOOK_PATH)
    assert posted.params["text"] == "daily_digest failed"
    assert "summarize: HTTP 401" in str(posted.params["blocks"])

"""`type: slack`: a webhook connection or an API one with a channel; its ledger target and alert key."""

from __future__ import annotations

import pydantic
import pytest

from agentjobs.jobs.channels.slack import SlackChannel


def test_a_webhook_connection_is_the_default_and_its_target_says_webhook():
    channel = SlackChannel(type="slack")
    assert (channel.conn_id, channel.channel, channel.update_on_redeliver) == ("slack_default", None, True)
    assert channel.target("job", "2026-11-24") == "slack_default:webhook"


def test_an_api_connection_targets_its_channel():
    channel = SlackChannel(type="slack", conn_id="slack_api", channel="C0123")
    assert channel.target("job", "2026-11-24") == "slack_api:C0123"
    # Another channel through the same connection is another delivery.
    assert SlackChannel(type="slack", conn_id="slack_api", channel="C0456").target("job", "d") != (
        channel.target("job", "d")
    )


def test_the_alert_key_keeps_the_health_checks_earlier_spelling():
    assert SlackChannel(type="slack", channel="C1").alert_key() == "slack:slack_default:C1"
    assert SlackChannel(type="slack", conn_id="hook").alert_key() == "slack:hook:[]"
    assert SlackChannel.alerts


def test_an_unknown_key_is_refused():
    with pytest.raises(pydantic.ValidationError, match="channel_name"):
        SlackChannel(type="slack", channel_name="C1")


@pytest.mark.parametrize("channel", ["", "#digest team", "<!channel>", "#a\nb", "@here"])
def test_a_channel_that_is_no_slack_channel_name_or_id_is_refused(channel):
    # Else an API connection failed at delivery (channel_not_found), after the model was paid.
    with pytest.raises(pydantic.ValidationError, match="not a Slack channel name or id"):
        SlackChannel(type="slack", channel=channel)
    for fine in ("#digest", "digest-alerts", "C0123ABC"):
        assert SlackChannel(type="slack", channel=fine).channel == fine

"""Slack: Block Kit built from the markdown, over the Slack provider's hooks (delivery/slack.py)."""

from __future__ import annotations

from typing import Any

from agentjobs.delivery.channels.base import Channel, Message
from agentjobs.jobs.channels.slack import SlackChannel


class SlackSender(Channel[SlackChannel]):
    spec_model = SlackChannel

    def render(self, message: Message) -> list[dict[str, Any]]:
        """The blocks (cut to Slack's limits; `send` uploads a file instead when they are)."""
        from agentjobs.delivery.slack_blocks import fit_blocks

        return fit_blocks(message.markdown, title=message.title)[0]

    def edits_on_redeliver(self) -> bool:
        return self.spec.update_on_redeliver

    def send(self, message: Message) -> dict[str, Any]:
        from agentjobs.delivery.slack import send_slack

        return send_slack(
            slack_conn_id=self.spec.conn_id,
            markdown=message.markdown,
            channel=self.spec.channel,
            title=message.title,
            filename=message.artifact.name,
            replace=message.previous,
        )

    def alert(self, subject: str, body: str) -> None:
        from agentjobs.delivery.slack import send_slack

        send_slack(slack_conn_id=self.spec.conn_id, markdown=body, channel=self.spec.channel, title=subject)


CHANNEL = SlackSender

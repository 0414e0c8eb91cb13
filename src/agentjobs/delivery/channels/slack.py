"""Slack: Block Kit built from the markdown, over the Slack provider's hooks (delivery/slack.py)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from agentjobs.delivery.channels.base import ChannelSpec, Message


class SlackChannel(ChannelSpec):
    type: Literal["slack"]
    conn_id: str = "slack_default"  # a `slack` (API token) or `slackwebhook` connection
    channel: str | None = None  # needed for `slack` API connections
    # A forced re-delivery edits the message posted before (by its stored ts) instead of posting
    # a second one; webhooks cannot edit, so there it always posts.
    update_on_redeliver: bool = True

    alerts: ClassVar[bool] = True

    def target(self, job: str, day: str) -> str:
        return f"{self.conn_id}:{self.channel or 'webhook'}"

    def render(self, message: Message) -> list[dict[str, Any]]:
        """The blocks (cut to Slack's limits; `send` uploads a file instead when they are)."""
        from agentjobs.delivery.slack_blocks import fit_blocks

        return fit_blocks(message.markdown, title=message.title)[0]

    def edits_on_redeliver(self) -> bool:
        return self.update_on_redeliver

    def send(self, message: Message) -> dict[str, Any]:
        from agentjobs.delivery.slack import send_slack

        return send_slack(
            slack_conn_id=self.conn_id,
            markdown=message.markdown,
            channel=self.channel,
            title=message.title,
            filename=message.artifact.name,
            replace=message.previous,
        )

    def alert(self, subject: str, body: str) -> None:
        from agentjobs.delivery.slack import send_slack

        send_slack(slack_conn_id=self.conn_id, markdown=body, channel=self.channel, title=subject)

    def alert_key(self) -> str:
        # As the health check wrote it before channels were objects: ledger rows keep matching.
        return f"slack:{self.conn_id}:{self.channel or []}"


CHANNEL = SlackChannel

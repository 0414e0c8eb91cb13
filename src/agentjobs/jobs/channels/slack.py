"""`type: slack`: Block Kit through a `slackwebhook` connection or a `slack` API connection."""

from __future__ import annotations

from typing import ClassVar, Literal

from agentjobs.jobs.channels.base import ChannelSpec


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

    def alert_key(self) -> str:
        # As the health check wrote it before channels were objects: its ledger rows keep matching.
        return f"slack:{self.conn_id}:{self.channel or []}"


CHANNEL = SlackChannel

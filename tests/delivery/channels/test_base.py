"""The channel interface's defaults: the spec's target, the markdown as what is sent, no editing on a
re-delivery, and an alert refused for a channel that cannot page."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest

from agentjobs.delivery.channels.base import AlertNotSupported, Channel, Message
from agentjobs.jobs.channels.base import ChannelSpec


class Pigeon(ChannelSpec):
    type: Literal["pigeon"]
    conn_id: str = "pigeon_default"
    loft: str = "north"

    def target(self, job: str, day: str) -> str:
        return f"{self.loft}:{job}/{day}"


class PigeonSender(Channel[Pigeon]):
    spec_model = Pigeon

    def send(self, message: Message) -> dict[str, Any]:
        return {"carried": self.render(message)}


def test_a_channel_that_only_sends_takes_every_other_behaviour_from_the_interface():
    channel = PigeonSender(Pigeon(type="pigeon", loft="south"))
    sent = Message(
        "daily_digest", "2026-11-24", "Daily digest — 2026-11-24", "Daily digest", "# Hi\n", Path("d.md")
    )
    assert channel.type == "pigeon"
    assert channel.target("daily_digest", "2026-11-24") == "south:daily_digest/2026-11-24"
    assert channel.render(sent) == "# Hi\n" and channel.send(sent) == {"carried": "# Hi\n"}
    assert channel.edits_on_redeliver() is False
    with pytest.raises(AlertNotSupported, match="channel type 'pigeon' cannot send alerts"):
        channel.alert("daily_digest failed", "why")

"""The one channel interface: what a spec's `channels:` entry (and its `alert:`) is, and does.

A channel is a pydantic model (its fields are the spec's YAML keys, its `type` a Literal)
with the four things every delivery path asks of it:

- `target(job, day)`: the delivery ledger's `target`, where it sends, never a credential;
- `render(message)`: what goes out (a subject, blocks, a JSON body), without sending;
- `send(message)`: send it once, return the receipt the ledger stores;
- `alert(subject, body)`: page someone, for the channels with `alerts = True`.

`send` and `target` are abstract: a channel class that lacks one cannot be built, so a spec
naming it fails when the spec loads, before any model call is paid. The provider hooks are
imported inside `send`/`alert`, so loading a spec (and parsing a DAG file) imports none.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

# The spec's rules: unknown keys are errors, and .inf / .nan are refused.
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True)
class Message:
    """One delivery's content and the names it goes out under."""

    job: str  # the job's dag_id
    day: str  # the day (or period key) the ledger keys it by
    title: str  # the heading a reader sees: "<job title> — <day>"
    job_title: str  # what a subject template's {title} stands for
    markdown: str  # the validated artifact's text
    artifact: Path  # the file it was read from (S3 uploads its bytes, Slack names the upload after it)
    previous: dict[str, Any] | None = None  # a forced re-delivery: the receipt it may edit in place


class AlertNotSupported(ValueError):
    """The channel delivers artifacts but cannot page anyone."""


class ChannelSpec(BaseModel):
    """Base of every channel model; subclasses set `type: Literal[...]` and a default `conn_id`."""

    model_config = STRICT

    type: str
    conn_id: str

    # Whether the spec's `alert:` may name this channel (failures, deadlines, health).
    alerts: ClassVar[bool] = False

    @abstractmethod
    def target(self, job: str, day: str) -> str:
        """Where this channel sends, as the delivery ledger keys it; never a credential."""

    def render(self, message: Message) -> Any:
        """What `send` sends for `message`; by default the markdown itself."""
        return message.markdown

    @abstractmethod
    def send(self, message: Message) -> dict[str, Any]:
        """Send `message` once (no retry inside: the ledger and the task's retries decide)."""

    def edits_on_redeliver(self) -> bool:
        """A forced re-delivery edits what was sent before (given `Message.previous`)."""
        return False

    def alert(self, subject: str, body: str) -> None:
        raise AlertNotSupported(f"channel type {self.type!r} cannot send alerts")

    def alert_key(self) -> str:
        """How the health check names this alert channel in its ledger rows (kept as it was)."""
        return f"{self.type}:{self.conn_id}"

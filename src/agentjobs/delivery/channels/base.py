"""The one channel interface: what deliveries, per-team deliveries and alerts ask of a channel.

A `Channel` wraps its type's spec model (agentjobs.jobs.channels) and adds the sending half:

- `target(job, day)`: the delivery ledger's `target` (the spec model's), never a credential;
- `render(message)`: what goes out (a subject, blocks, a JSON body), without sending;
- `send(message)`: send it once, return the receipt the ledger stores;
- `alert(subject, body)`: page someone, for the types whose spec model has `alerts = True`.

`send` is abstract: a channel class that lacks it cannot be built, and `channel_for` refuses
it when the DAG is built (parse time), before any model call is paid. The provider hooks are
imported inside `send`/`alert`, so building a DAG imports none.
"""

# Annotations evaluated at once, not postponed: typing.NamedTuple would compile each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from agentjobs.jobs.channels.base import ChannelSpec

S = TypeVar("S", bound=ChannelSpec)


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class Message(NamedTuple):
    """One delivery's content and the names it goes out under."""

    job: str  # the job's dag_id (the ledger's job)
    day: str  # the day (or period key) the ledger keys it by
    title: str  # the heading a reader sees: "<job title> — <day>"
    job_title: str  # what a subject template's {title} stands for
    markdown: str  # the validated artifact's text
    artifact: Path  # the file it was read from (S3 uploads its bytes, Slack names the upload after it)
    previous: dict[str, Any] | None = None  # a forced re-delivery: the receipt it may edit in place


class AlertNotSupported(ValueError):
    """The channel delivers artifacts but cannot page anyone."""


class Channel(ABC, Generic[S]):
    """A channel type's sender around its spec model `spec`."""

    # The spec model this class sends for (registry.channel_for checks they match).
    spec_model: ClassVar[type[ChannelSpec]]

    def __init__(self, spec: S) -> None:
        self.spec = spec

    @property
    def type(self) -> str:
        return self.spec.type

    def target(self, job: str, day: str) -> str:
        return self.spec.target(job, day)

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

"""The spec half of the channel interface: what a spec's `channels:` entry (and its `alert:`) is.

A channel's spec model is a pydantic model whose fields are the YAML keys and whose `type` is a
Literal. It answers what the job domain needs without sending anything:

- `target(job, day)`: the delivery ledger's `target`, where it sends, never a credential;
- `alerts`: whether the spec's `alert:` may name this type (failures, deadlines, health);
- `alert_key()`: how the health check names this alert channel in its ledger rows.

Rendering and sending are delivery's (agentjobs.delivery.channels.<type>), which wraps this model.
"""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from abc import abstractmethod
from typing import ClassVar, get_args

from pydantic import BaseModel, ConfigDict

# The validation context key load_spec sets: the values are as a person wrote them in a file,
# where a null is a mistake (`channel: #digest` is a YAML comment), not a dumped default.
WRITTEN_IN_A_FILE = "written_in_a_file"

# The spec's rules: unknown keys are errors, and .inf / .nan are refused.
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)


class ChannelSpec(BaseModel):
    """Base of every channel's spec model; subclasses set `type: Literal[...]` and a default `conn_id`."""

    model_config = STRICT

    type: str
    conn_id: str

    # Whether the spec's `alert:` may name this channel; its sender must then implement `alert`.
    alerts: ClassVar[bool] = False

    @abstractmethod
    def target(self, job: str, day: str) -> str:
        """Where this channel sends, as the delivery ledger keys it; never a credential."""

    def alert_key(self) -> str:
        """How the health check names this alert channel in its ledger rows."""
        return f"{self.type}:{self.conn_id}"


def type_of(cls: type[ChannelSpec]) -> str:
    """The `type:` a spec writes for `cls`: its `type` field's one Literal value."""
    annotation = cls.model_fields["type"].annotation
    values = get_args(annotation)
    if len(values) != 1 or not isinstance(values[0], str):
        raise TypeError(f"{cls.__name__}.type must be Literal['<name>'], not {annotation!r}")
    return values[0]

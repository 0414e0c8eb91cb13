"""The spec half of a channel: its `type:` read from the Literal, strict keys and numbers, and the
alert key the health check writes by default."""

from __future__ import annotations

from typing import Literal

import pydantic
import pytest

from agentjobs.jobs.channels.base import ChannelSpec, type_of


class Pager(ChannelSpec):
    type: Literal["pager"]
    conn_id: str = "pager_default"
    retries: float = 1

    def target(self, job: str, day: str) -> str:
        return f"{self.conn_id}:{job}"


def test_the_type_a_spec_writes_is_the_literal_of_the_model():
    assert type_of(Pager) == "pager"


class TwoTypes(Pager):
    type: Literal["pager", "beeper"]  # type: ignore[assignment]


class AnyType(Pager):
    type: str  # type: ignore[assignment]


@pytest.mark.parametrize("model", [TwoTypes, AnyType])
def test_a_model_without_one_literal_type_is_refused_naming_the_fix(model):
    with pytest.raises(TypeError, match=rf"^{model.__name__}\.type must be Literal\['<name>'\], not "):
        type_of(model)


def test_a_channel_spec_refuses_unknown_keys_and_infinite_numbers():
    with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
        Pager(type="pager", conn_ids="typo")
    for number in (float("inf"), float("nan")):
        with pytest.raises(pydantic.ValidationError, match="finite number"):
            Pager(type="pager", retries=number)


def test_the_default_alert_key_is_type_and_connection():
    assert Pager(type="pager").alert_key() == "pager:pager_default"
    assert Pager(type="pager", conn_id="oncall").alert_key() == "pager:oncall"
    assert Pager.alerts is False  # a new channel pages only when it says so


def test_a_model_without_a_target_cannot_be_made():
    class NoTarget(ChannelSpec):
        type: Literal["void"]
        conn_id: str = "void"

    with pytest.raises(TypeError, match="abstract"):
        NoTarget(type="void")

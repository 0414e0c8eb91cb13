"""The sender registry (delivery/channels/registry.py): every spec type has a sender, a type without one
is refused when the DAG is built, before any run. How specs load channels: tests/jobs/channels/."""

from __future__ import annotations

from typing import Literal

import pytest

from agentjobs.delivery.channels.base import AlertNotSupported, Channel
from agentjobs.delivery.channels.registry import NoSender, channel_for
from agentjobs.jobs.channels.base import ChannelSpec
from agentjobs.jobs.channels.registry import ALERT_TYPES, CHANNEL_TYPES


class Fax(ChannelSpec):
    """A spec model whose sender nobody wrote."""

    type: Literal["fax"]
    conn_id: str = "fax_default"

    def target(self, job: str, day: str) -> str:
        return self.conn_id


def test_a_channel_type_no_code_sends_fails_when_the_dag_is_built():
    with pytest.raises(NoSender, match="'fax' has no sender"):
        channel_for(Fax(type="fax"))

    class FaxSender(Channel[Fax]):
        spec_model = Fax

    with pytest.raises(TypeError, match="send"):
        FaxSender(Fax(type="fax"))


def test_a_digest_job_naming_a_type_without_a_sender_is_refused_before_any_run():
    from agentjobs.operators.deliver import DeliverOperator
    from tests.jobs.specs import digest_spec

    spec = digest_spec("fax_job", "llm_test", sources={"rss": {"feeds": ["feed.xml"]}})
    with pytest.raises(NoSender):
        DeliverOperator(task_id="deliver_fax_0", spec=spec, channel=Fax(type="fax"))


def test_every_spec_type_has_a_sender_and_every_alert_type_can_alert():
    assert set(CHANNEL_TYPES) >= {"email", "slack", "s3", "webhook"}
    assert set(ALERT_TYPES) == {"email", "slack", "webhook"}
    for kind, cls in CHANNEL_TYPES.items():
        spec = cls.model_construct(type=kind)
        assert channel_for(spec).spec is spec
        if kind in ALERT_TYPES:
            assert type(channel_for(spec, alerting=True)).alert is not Channel.alert
        else:
            with pytest.raises(AlertNotSupported):
                channel_for(spec, alerting=True)

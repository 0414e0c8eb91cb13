"""Every channel type found from the package's modules, and the spec's `channels:` and `alert:`
built from them: an error names the type's own field, an unknown type lists the known ones."""

from __future__ import annotations

import sys
import textwrap
import types
from pathlib import Path

import pydantic
import pytest

from agentjobs.jobs.channels import registry
from agentjobs.jobs.channels.email import EmailChannel
from agentjobs.jobs.channels.s3 import S3Channel
from agentjobs.jobs.channels.slack import SlackChannel


def test_a_mapping_becomes_the_model_of_its_type():
    channel = registry.channel_of({"type": "slack", "channel": "C1"})
    assert type(channel) is SlackChannel and channel.channel == "C1"
    assert type(registry.channel_of({"type": "s3", "bucket": "acme-reports"})) is S3Channel


def test_a_channel_already_built_is_taken_as_it_is():
    built = S3Channel(type="s3", bucket="acme-reports")
    assert registry.channel_of(built) is built


def test_a_mistake_is_named_at_the_types_own_field():
    with pytest.raises(pydantic.ValidationError) as refused:
        registry.channel_of({"type": "email", "to": []})
    assert [e["loc"] for e in refused.value.errors()] == [("email", "to")]


def test_an_unknown_type_lists_every_type_that_can_be_sent():
    with pytest.raises(pydantic.ValidationError) as refused:
        registry.channel_of({"type": "teams", "conn_id": "x"})
    assert "'teams'" in str(refused.value)
    assert "expected tags: 'email', 's3', 'slack', 'webhook'" in str(refused.value)


def test_an_alert_channel_is_one_that_can_page():
    assert type(registry.alert_channel_of({"type": "email", "to": ["ops@example.org"]})) is EmailChannel
    with pytest.raises(pydantic.ValidationError, match="expected tags: 'email', 'slack', 'webhook'"):
        registry.alert_channel_of({"type": "s3", "bucket": "acme-reports"})


def test_a_built_channel_that_cannot_page_is_refused_as_an_alert():
    with pytest.raises(ValueError, match=r"^channel type 's3' cannot send alerts$"):
        registry.alert_channel_of(S3Channel(type="s3", bucket="acme-reports"))
    built = SlackChannel(type="slack")
    assert registry.alert_channel_of(built) is built


def test_a_subclass_of_an_alerting_type_is_not_its_alert_channel():
    class Louder(EmailChannel):  # same `type: email`, but not the model the sender was written for
        pass

    with pytest.raises(ValueError, match="cannot send alerts"):
        registry.alert_channel_of(Louder(type="email", to=["ops@example.org"]))


# --- discovery: adding a channel is adding a module ------------------------------------------

PAGER = """
from typing import ClassVar, Literal
from agentjobs.jobs.channels.base import ChannelSpec

class PagerChannel(ChannelSpec):
    type: Literal["{type}"]
    conn_id: str = "pager_default"
    alerts: ClassVar[bool] = True

    def target(self, job: str, day: str) -> str:
        return self.conn_id
CHANNEL = PagerChannel
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A channels package of its own, with the shipped base and registry names left out as there."""
    folder = tmp_path / "fake_channels"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    module = types.ModuleType("fake_channels")
    module.__path__ = [str(folder)]
    monkeypatch.setitem(sys.modules, "fake_channels", module)
    monkeypatch.setattr(registry, "_package", module)
    yield folder
    for name in [n for n in sys.modules if n.startswith("fake_channels.")]:
        del sys.modules[name]


def write(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(text))


def test_a_new_module_with_a_channel_is_a_new_type(package):
    write(package, "pager", PAGER.format(type="pager"))
    write(package, "base", "CHANNEL = None\n")  # skipped by name, as the real base module
    write(package, "_private", "raise RuntimeError('never imported')\n")
    write(package, "notes", "CHANNEL = 'not a model'\n")
    found = registry._discover()
    assert list(found) == ["pager"] and found["pager"].__name__ == "PagerChannel"


def test_a_model_left_abstract_is_left_out(package):
    abstract = PAGER.format(type="pager").replace("def target", "def not_target")
    write(package, "pager", abstract)
    assert registry._discover() == {}


def test_a_type_named_unlike_its_module_is_refused_naming_both(package):
    write(package, "pager", PAGER.format(type="beeper"))
    with pytest.raises(
        TypeError, match=r"PagerChannel is type 'beeper' but lives in pager\.py; name them alike"
    ):
        registry._discover()

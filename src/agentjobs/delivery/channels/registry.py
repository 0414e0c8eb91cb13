"""The sender of a channel spec: `agentjobs.delivery.channels.<type>`'s `CHANNEL`, by its `type:`.

The spec's unions (agentjobs.jobs.channels.registry) decide which types a spec may name; this
finds the code that sends each. The factory asks for every channel of a job when it builds the
DAG (parse time), so a type with a spec model and no sender fails there, not after the model
was paid; tests/delivery/channels/test_registry.py checks that every spec type has one.
"""

from __future__ import annotations

import inspect
from importlib import import_module

from agentjobs.delivery.channels.base import AlertNotSupported, Channel
from agentjobs.jobs.channels.base import ChannelSpec


class NoSender(TypeError):
    """A channel type a spec may name but no code sends."""


def channel_for(spec: ChannelSpec, *, alerting: bool = False) -> Channel[ChannelSpec]:
    """The channel that sends for `spec` (NoSender when none can; AlertNotSupported when
    `alerting` and the type cannot page)."""
    try:
        module = import_module(f"{__package__}.{spec.type}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{spec.type}":
            raise  # the sender's module exists and fails to import: show that
        raise NoSender(f"channel type {spec.type!r} has no sender (agentjobs/delivery/channels/)") from None
    cls = getattr(module, "CHANNEL", None)
    if not (isinstance(cls, type) and issubclass(cls, Channel)) or inspect.isabstract(cls):
        raise NoSender(f"{module.__name__}.CHANNEL is not a Channel class that can send")
    if not isinstance(spec, cls.spec_model):
        sends, given = cls.spec_model.__name__, type(spec).__name__
        raise NoSender(f"{module.__name__}.CHANNEL sends {sends}, not {given}")
    if alerting and (not spec.alerts or cls.alert is Channel.alert):
        raise AlertNotSupported(f"channel type {spec.type!r} cannot send alerts")
    return cls(spec)

"""Every channel type, keyed by the `type:` a spec writes, and the spec's unions built from them.

The channel modules are the modules of this package (all but `base` and `registry`); each
names its spec model as `CHANNEL`. Adding a channel type is adding a module here (and its
sender in agentjobs.delivery.channels): the spec's `channels:` and `alert:` accept its `type:`
from then on, and nothing else lists it. A model left abstract (no `target`) is left out, so a
spec naming its type fails to load with the list of the types that can be sent.
"""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

import inspect
import pkgutil
from collections.abc import Mapping
from functools import cache, reduce
from importlib import import_module
from operator import or_
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from agentjobs.jobs import channels as _package
from agentjobs.jobs.channels.base import ChannelSpec, type_of

_NOT_CHANNELS = frozenset({"base", "registry"})


def _discover() -> dict[str, type[ChannelSpec]]:
    found: dict[str, type[ChannelSpec]] = {}
    for info in sorted(pkgutil.iter_modules(_package.__path__), key=lambda m: m.name):
        if info.name in _NOT_CHANNELS or info.name.startswith("_"):
            continue
        cls = getattr(import_module(f"{_package.__name__}.{info.name}"), "CHANNEL", None)
        if not (isinstance(cls, type) and issubclass(cls, ChannelSpec)) or inspect.isabstract(cls):
            continue
        kind = type_of(cls)
        if kind != info.name:
            # The sender is found by the same name (agentjobs.delivery.channels.<type>).
            raise TypeError(f"{cls.__name__} is type {kind!r} but lives in {info.name}.py; name them alike")
        found[kind] = cls
    return found


CHANNEL_TYPES: dict[str, type[ChannelSpec]] = _discover()
ALERT_TYPES: dict[str, type[ChannelSpec]] = {k: c for k, c in CHANNEL_TYPES.items() if c.alerts}

# The spec's `channels:` items and its `alert:`: discriminated by `type`, so an error names the
# type's own fields (`channels.0.email.to`) and an unknown type lists the known ones.
_ALL: Any = reduce(or_, CHANNEL_TYPES.values())
_ALERTING: Any = reduce(or_, ALERT_TYPES.values())
Channel = Annotated[_ALL, Field(discriminator="type")]
AlertChannel = Annotated[_ALERTING, Field(discriminator="type")]


@cache
def _adapter(alerting: bool) -> TypeAdapter[Any]:
    """Built on first use, not at import: a DAG parse validates its channels inside JobSpec and
    never needs these (building the two costs it milliseconds)."""
    return TypeAdapter(AlertChannel if alerting else Channel)


def channel_of(value: Mapping[str, Any] | ChannelSpec) -> ChannelSpec:
    """A channel from its spec mapping (ValidationError, a ValueError, when it is not one)."""
    return value if isinstance(value, ChannelSpec) else _adapter(False).validate_python(value)


def alert_channel_of(value: Mapping[str, Any] | ChannelSpec) -> ChannelSpec:
    """An alert channel from its spec mapping, e.g. a deadline callback's stored kwargs."""
    if isinstance(value, ChannelSpec):
        if type(value) is not ALERT_TYPES.get(value.type):
            raise ValueError(f"channel type {value.type!r} cannot send alerts")
        return value
    return _adapter(True).validate_python(value)

"""The job kinds by name: the ones this package ships, and those other packages declare.

A kind is a module-level singleton implementing base.Kind. The shipped ones are listed below
as "module:attribute"; another package adds one with an entry point in the group
`agentjobs.kinds` (name = the kind's name, value = "module:attribute"), without touching
agentjobs. A kind's module is imported only when a spec names the kind, and the installed
packages' entry points are read only when a spec names a kind that is not shipped (reading
them costs a DAG parse milliseconds). A kind that does not import or does not implement
base.Kind raises KindError: the spec that names it is broken, every other spec still loads.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentjobs.jobs.kinds.base import FanOutKind, Kind

ENTRY_POINT_GROUP = "agentjobs.kinds"
DIGEST = "digest"
# name -> "module:attribute" of the kind's singleton
SHIPPED: dict[str, str] = {
    DIGEST: "agentjobs.jobs.kinds.digest:KIND",
    "weekly_insights": "agentjobs.jobs.kinds.weekly_insights:weekly_insights",
    "anomaly_flags": "agentjobs.jobs.kinds.anomaly_flags:KIND",
    "overdue_reminders": "agentjobs.jobs.kinds.overdue_reminders:KIND",
    "enrichment": "agentjobs.jobs.kinds.enrichment:KIND",
    "reconciliation": "agentjobs.jobs.kinds.reconciliation:KIND",
    "invoice_reconciliation": "agentjobs.jobs.kinds.invoice_reconciliation:KIND",
    "compliance_report": "agentjobs.jobs.kinds.compliance_report:KIND",
    "batch_notifications": "agentjobs.jobs.kinds.batch_notifications:KIND",
}
FAN_OUT_KINDS = tuple(name for name in SHIPPED if name != DIGEST)  # the shipped business-database kinds
FAN_OUT_GRAPH = "agentjobs.operators.fan_out_graph:GRAPH"  # a fan-out kind's tasks unless it has its own


class KindError(ValueError):
    """A kind a spec names that cannot be used: unknown, not importable, or not a base.Kind."""


@cache
def installed() -> dict[str, EntryPoint]:
    """The kinds other packages declare, by name; a shipped name is not theirs to replace."""
    found = entry_points(group=ENTRY_POINT_GROUP)
    return {point.name: point for point in found if point.name not in SHIPPED}


def known(name: str) -> bool:
    return name in SHIPPED or name in installed()


def names() -> tuple[str, ...]:
    """Every kind a spec may name: the shipped ones first, then the installed ones by name."""
    return (*SHIPPED, *sorted(installed()))


_loaded: dict[str, Kind | KindError] = {}


def kind(name: str) -> Kind:
    """The kind called `name`, imported on first use; KindError says why it cannot be used (the
    failure is remembered, so a broken kind is not imported again for each of its specs)."""
    if name not in _loaded:
        try:
            _loaded[name] = _load(name)
        except KindError as exc:
            _loaded[name] = exc
    found = _loaded[name]
    if isinstance(found, KindError):
        raise found
    return found


def _load(name: str) -> Kind:
    from agentjobs.jobs.kinds.base import FanOutKind, Kind
    from agentjobs.jobs.kinds.capabilities import OwnTaskGraph

    where, obj = _import(name)
    if not declares(obj, Kind):
        raise KindError(
            f"kind {name!r} ({where}) is not a kind: it lacks "
            + ", ".join(m for m in ("name", "settings_model", "default_schedule") if not hasattr(obj, m))
        )
    if obj.name != name:
        raise KindError(f"kind {name!r} ({where}) calls itself {obj.name!r}; the two names must be the same")
    if not declares(obj, FanOutKind) and not declares(obj, OwnTaskGraph):
        raise KindError(
            f"kind {name!r} ({where}) has no task graph: implement base.FanOutKind (the per-team "
            "fan-out) or declare `task_graph` (capabilities.OwnTaskGraph)"
        )
    return obj


def _import(name: str) -> tuple[str, Any]:
    """Where the kind comes from (for messages), and its singleton."""
    point = None if name in SHIPPED else installed().get(name)
    if name in SHIPPED:
        where = SHIPPED[name]
    elif point is not None:
        where = f"entry point {point.value!r} of {point.dist.name if point.dist else 'an installed package'}"
    else:
        raise KindError(f"unknown job kind {name!r}; use one of {', '.join(names())}")
    try:
        if point is not None:
            return where, point.load()
        module, attribute = where.split(":")
        return where, getattr(import_module(module), attribute)
    except Exception as exc:  # an import error of any type takes down the kind's specs only
        raise KindError(f"kind {name!r} did not load from {where}: {type(exc).__name__}: {exc}") from None


# (id of a kind, protocol) -> (the kind, whether it has the protocol): a DAG parse asks each
# kind's capabilities several times over while validating and building. The kind is kept beside
# its answer so that its id cannot be reused by another object.
_declared: dict[tuple[int, type], tuple[object, bool]] = {}


def declares(found: object, capability: type) -> bool:
    """isinstance(found, capability) for a kind (or a kind's task graph) and a runtime-checkable
    protocol, remembered per process: a kind's members do not change once it is loaded."""
    key = (id(found), capability)
    if key not in _declared:
        _declared[key] = (found, _has_members(found, capability))
    return _declared[key][1]


def _has_members(found: object, capability: type) -> bool:
    # What isinstance on a runtime-checkable protocol checks, with the protocol's members read
    # once: Python 3.11's isinstance collects them from the protocol's classes on every call
    # (20-40 us a check; reading them once cut a DAG parse by 3% of its instructions,
    # bench/dag_parse.py). A method set to None does not count, as there.
    return all(
        hasattr(found, name) and (not is_method or getattr(found, name) is not None)
        for name, is_method in protocol_members(capability)
    )


@cache
def protocol_members(protocol: type) -> tuple[tuple[str, bool], ...]:
    """Each public member a protocol declares (its own and its protocol bases'), and whether it is
    a method. Capabilities name their members publicly; tests/jobs/kinds/test_registry.py checks
    that this reads every protocol of agentjobs as isinstance does."""
    if not getattr(protocol, "_is_runtime_protocol", False):
        raise TypeError(f"{protocol.__qualname__} is not a runtime-checkable protocol")
    names: dict[str, None] = {}
    for base in protocol.__mro__[:-1]:  # not `object`
        if base.__module__ == "typing":  # Protocol, Generic
            continue
        declared = (*vars(base), *vars(base).get("__annotations__", {}))
        names.update(dict.fromkeys(name for name in declared if name[0] != "_"))
    return tuple((name, callable(getattr(protocol, name, None))) for name in names)


def task_graph(found: Kind) -> str:
    """The "module:attribute" of the operators.graph.TaskGraph that builds `found`'s tasks."""
    from agentjobs.jobs.kinds.capabilities import OwnTaskGraph

    return found.task_graph if declares(found, OwnTaskGraph) else FAN_OUT_GRAPH


def fan_out_kind(name: str) -> FanOutKind:
    """The fan-out kind called `name` (a DAG build asks several times per job: kind() and
    declares() both remember their answers)."""
    from agentjobs.jobs.kinds.base import FanOutKind

    found = kind(name)
    if not declares(found, FanOutKind):
        raise ValueError(f"{name!r} is not a fan-out job kind")
    return found


def default_schedule(name: str) -> str:
    """The kind's own cron when the spec gives none."""
    return kind(name).default_schedule


def forget_installed() -> None:
    """Read the installed packages' kinds again on next use (a package installed into a running
    process, e.g. by a test): the shipped kinds stay loaded."""
    installed.cache_clear()
    for name in [name for name in _loaded if name not in SHIPPED]:
        del _loaded[name]

"""The job kinds this package ships, by name. Kind modules are imported only when a spec uses them."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentjobs.jobs.kinds.base import FanOutKind

DIGEST = "digest"
# name -> "module:attribute" of the kind's singleton
FAN_OUT_KINDS: dict[str, str] = {
    "weekly_insights": "agentjobs.jobs.kinds.weekly_insights:weekly_insights",
    "anomaly_flags": "agentjobs.jobs.kinds.anomaly_flags:KIND",
    "overdue_reminders": "agentjobs.jobs.kinds.overdue_reminders:KIND",
    "enrichment": "agentjobs.jobs.kinds.enrichment:KIND",
    "reconciliation": "agentjobs.jobs.kinds.reconciliation:KIND",
    "compliance_report": "agentjobs.jobs.kinds.compliance_report:KIND",
    "batch_notifications": "agentjobs.jobs.kinds.batch_notifications:KIND",
}
KIND_NAMES: tuple[str, ...] = (DIGEST, *FAN_OUT_KINDS)
DIGEST_SCHEDULE = "0 3 * * *"


def fan_out_kind(name: str) -> FanOutKind:
    try:
        module_name, attribute = FAN_OUT_KINDS[name].split(":")
    except KeyError:
        known = ", ".join(FAN_OUT_KINDS)
        raise ValueError(f"{name!r} is not a fan-out job kind; use one of {known}") from None
    return getattr(import_module(module_name), attribute)


def default_schedule(name: str) -> str:
    """The kind's own cron when the spec gives none (an unknown kind fails on its own field)."""
    if name in FAN_OUT_KINDS:
        return fan_out_kind(name).default_schedule
    return DIGEST_SCHEDULE

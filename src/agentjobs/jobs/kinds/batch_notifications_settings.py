"""The `batch_notifications` spec section, the windows' keys, and the names both halves of the
kind share (the kind, batch_notifications.py, loads with every DAG parse; its run-time half,
batch_notifications_run.py, when a task runs)."""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from agentjobs.business.categories import EVENT_CATEGORIES

ARTIFACT_FILE = "notifications.md"
CANDIDATES = "candidates"  # the events read (what the claim chooses from)
EVENTS = "events"  # the events this window claimed: the only table the summary reads
DAY_MINUTES = 24 * 60
WINDOW_KEY_FORMAT = "%Y-%m-%dT%H%MZ"  # a folder name and the ledger's window: no ':'

DEFAULT_WINDOWS = {
    "receipt_matched": 0,
    "document_matched": 0,
    "transaction_created": 10,
    "invoice_paid": 10,
    "invoice_overdue": 30,
    "recurring_invoice_upcoming": 60,
}


class Settings(BaseModel):
    """The spec's `batch_notifications` section."""

    model_config = ConfigDict(extra="forbid")
    # Must match the schedule's step (the default schedule is every 5 minutes).
    run_every_minutes: Annotated[StrictInt, Field(ge=1, le=60)] = 5
    # category -> window in minutes, aligned to the UTC clock; 0: immediate (the next run).
    windows: dict[str, StrictInt] = Field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    lookback_hours: Annotated[StrictInt, Field(ge=2, le=24 * 31)] = 24
    summary: Literal["none", "model"] = "none"  # the optional one sentence of the model
    list_max: Annotated[StrictInt, Field(ge=0, le=100)] = 5  # records named per category

    @field_validator("run_every_minutes")
    @classmethod
    def _divides_the_day(cls, value: int) -> int:
        if DAY_MINUTES % value:
            raise ValueError(f"{value} does not divide the day's 1440 minutes; use e.g. 5, 10 or 15")
        return value

    @field_validator("windows")
    @classmethod
    def _known_windows(cls, value: dict[str, int]) -> dict[str, int]:
        for category, minutes in value.items():
            if category not in EVENT_CATEGORIES:
                raise ValueError(f"unknown event category {category!r}; use {', '.join(EVENT_CATEGORIES)}")
            if minutes < 0 or minutes > DAY_MINUTES or (minutes and DAY_MINUTES % minutes):
                raise ValueError(
                    f"{category}: {minutes} minutes is no window of the UTC clock; use 0 (immediate) "
                    "or a divisor of 1440 such as 10, 30 or 60"
                )
        return value

    @model_validator(mode="after")
    def _on_a_run(self) -> "Settings":
        for category, minutes in self.windows.items():
            if minutes % self.run_every_minutes:
                raise ValueError(
                    f"windows.{category}: {minutes} minutes is not a multiple of run_every_minutes "
                    f"({self.run_every_minutes}); no run would close it on time"
                )
        return self


def aware(when: datetime) -> datetime:
    """`when` in UTC; a naive moment is taken as UTC."""
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def window_key(end: datetime) -> str:
    return aware(end).strftime(WINDOW_KEY_FORMAT)

"""The spec's `anomaly_flags` section and its metrics: what a DAG parse of the kind needs.

The detection itself (anomaly_detect.py) is run-time only: its flags and the code that finds
them load when a task asks for them, not on every parse of the jobs DAG file.
"""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Metric = Literal["orders", "order_revenue", "transactions", "expenses"]
METRICS: tuple[Metric, ...] = ("orders", "order_revenue", "transactions", "expenses")
# Metrics whose values are amounts (integer minor units of the team's currency), not counts.
AMOUNT_METRICS: frozenset[str] = frozenset({"order_revenue", "expenses"})


class AnomalySettings(BaseModel):
    """The spec's `anomaly_flags` section."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    local_hour: int = Field(7, ge=0, le=23)  # the team-local hour its run of the day starts
    window_days: int = Field(28, ge=2, le=366)  # the trailing days each day is compared with
    min_history_days: int = Field(14, ge=2, le=366)  # fewer days of data before the day: no flag
    threshold: float = Field(4.0, gt=0)  # |robust z| at or above which a day is flagged
    metrics: list[Metric] = Field(default_factory=lambda: list(METRICS))
    duplicate_charges: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> "AnomalySettings":
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError(f"metrics lists a metric twice: {self.metrics}")
        if self.min_history_days > self.window_days:
            raise ValueError(
                f"min_history_days ({self.min_history_days}) is more than window_days ({self.window_days}): "
                "no day could ever be judged"
            )
        return self

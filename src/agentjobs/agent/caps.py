"""The caps of one agent run, as one value: the single place their defaults and bounds live.

A job's spec (`caps:`), the DAG's `caps` Param, the AgentOperator's `caps` field and the
budget meter all use this model, so a cap is declared once and checked once. Adding a cap
means a field here and its check in `budget.BudgetMeter`.
"""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

# Counts are integers as written: `max_iterations: yes` or 40.5 is a mistake, not a number.
_Count = Annotated[int, Strict()]


class Caps(BaseModel):
    """Hard caps on one agent task. `None` turns a cap off (iterations always apply)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    max_iterations: _Count = Field(40, ge=1, le=1000)
    max_total_tokens: _Count | None = Field(60_000, gt=0, le=10_000_000)
    max_cost_usd: float | None = Field(None, gt=0, le=1000)
    timeout_s: float | None = Field(900, gt=0, le=86_400)  # a day at most
    # The most prompt tokens one call may send, counted before the call (agent/prompt_size.py).
    max_context_tokens: _Count | None = Field(None, gt=0, le=10_000_000)

    def overridden(self, overrides: Any) -> "Caps":
        """These caps with some replaced: `overrides` is a mapping, Caps, or its JSON text.

        Each field is validated once, here; a rendered template ("{{ params.caps | tojson }}")
        arrives as text and is parsed once, as JSON.
        """
        if overrides is None or overrides == "":
            return self
        if isinstance(overrides, Caps):
            return overrides
        if isinstance(overrides, str):
            overrides = _parse(overrides)
        if not isinstance(overrides, Mapping):
            raise ValueError(
                f"caps must be a mapping of cap names to numbers, got {type(overrides).__name__}"
            )
        try:
            return Caps.model_validate({**self.model_dump(), **{k: _value(v) for k, v in overrides.items()}})
        except ValidationError as exc:
            raise ValueError(_explain(exc)) from None

    @classmethod
    def of(cls, value: Any) -> "Caps":
        """Caps from a mapping, Caps or JSON text; caps not named keep their defaults."""
        return cls().overridden(value)


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(
            f'caps must be a JSON object such as {{"max_cost_usd": 0.5}}, got {text[:200]!r}; '
            "render a Param with `| tojson` ('{{ params.caps | tojson }}')"
        ) from None


def _value(value: Any) -> Any:
    """One cap as given: a number, None, or a rendered template's text ("40", "0.5", "None")."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text in ("", "None", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return value  # validation names the cap and what it got


def _explain(exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'caps'}: {error['msg']}" for error in exc.errors()
    )
    names = ", ".join(Caps.model_fields)
    return (
        f"invalid caps ({problems}); the caps are {names}, each a positive number or null "
        "(no cap; max_iterations always applies)"
    )

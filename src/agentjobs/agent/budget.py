"""Enforcing the caps of one agent run (agent/caps.py): iterations, tokens, cost, time
and the prompt one call may send.

Every model call is checked *before* it is made (its counted prompt too) and its usage is
recorded from the API's own `usage` block right after. A call's `max_tokens` is clamped to
what the token and cost budgets have left, so a single reply cannot run far past a cap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import BudgetExceeded


@dataclass(frozen=True)
class Prices:
    """USD per one million tokens, as providers publish them."""

    input_per_million: float = 0.0
    output_per_million: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


@dataclass
class Usage:
    """What a run has spent so far; the shape pushed to XCom."""

    iterations: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0

    def as_dict(self) -> dict[str, int | float]:
        # Spelled out rather than dataclasses.asdict (a deep copy): it is saved after every call.
        return {
            "iterations": self.iterations,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }

    @classmethod
    def from_dict(cls, data: dict[str, int | float] | None) -> Usage:
        if not data:
            return cls()
        return cls(
            iterations=int(data.get("iterations", 0)),
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
            total_tokens=int(data.get("total_tokens", 0)),
            cost_usd=float(data.get("cost_usd", 0.0)),
        )


@dataclass
class BudgetMeter:
    """Enforces the caps over one run, starting from what earlier tries already spent."""

    caps: Caps
    prices: Prices = field(default_factory=Prices)
    usage: Usage = field(default_factory=Usage)
    clock: Callable[[], float] = time.monotonic
    elapsed_before_s: float = 0.0  # wall time earlier tries of the same task used
    _started: float = field(init=False)

    def __post_init__(self) -> None:
        self._started = self.clock()

    @property
    def elapsed_s(self) -> float:
        return self.elapsed_before_s + (self.clock() - self._started)

    def remaining_s(self) -> float | None:
        if self.caps.timeout_s is None:
            return None
        return self.caps.timeout_s - self.elapsed_s

    @property
    def counts_prompts(self) -> bool:
        """Whether a call's prompt must be counted before it is sent (a context cap is set)."""
        return self.caps.max_context_tokens is not None

    def check_before_call(self, prompt_tokens: int | None = None) -> None:
        """Raise BudgetExceeded if one more model call, sending `prompt_tokens`, would break a cap."""
        b, u = self.caps, self.usage
        if u.iterations >= b.max_iterations:
            raise BudgetExceeded("max_iterations", b.max_iterations, u.iterations, "no final answer yet")
        context_cap = b.max_context_tokens
        if context_cap is not None and prompt_tokens is not None and prompt_tokens > context_cap:
            raise BudgetExceeded(
                "max_context_tokens", b.max_context_tokens, prompt_tokens, "the prompt was not sent"
            )
        self._check_spend()
        remaining = self.remaining_s()
        if remaining is not None and remaining <= 0:
            raise BudgetExceeded("timeout_s", b.timeout_s or 0, round(self.elapsed_s, 3))

    def _check_spend(self) -> None:
        b, u = self.caps, self.usage
        if b.max_total_tokens is not None and u.total_tokens >= b.max_total_tokens:
            raise BudgetExceeded("max_total_tokens", b.max_total_tokens, u.total_tokens)
        if b.max_cost_usd is not None and u.cost_usd >= b.max_cost_usd:
            raise BudgetExceeded("max_cost_usd", b.max_cost_usd, round(u.cost_usd, 6))

    def clamp_max_tokens(self, requested: int | None) -> int | None:
        """The largest completion this call may ask for, given what the budget has left."""
        limits = [requested] if requested is not None else []
        b, u = self.caps, self.usage
        if b.max_total_tokens is not None:
            limits.append(b.max_total_tokens - u.total_tokens)
        if b.max_cost_usd is not None and self.prices.output_per_million > 0:
            left_usd = b.max_cost_usd - u.cost_usd
            limits.append(math.floor(left_usd * 1_000_000 / self.prices.output_per_million))
        if not limits:
            return None
        # check_before_call guarantees something is left; never ask for less than one token.
        return max(1, min(limits))

    def record(self, prompt_tokens: int, completion_tokens: int, total_tokens: int | None = None) -> None:
        """Count one model call, then fail at once if its reply crossed a spend cap."""
        u = self.usage
        u.iterations += 1
        u.prompt_tokens += prompt_tokens
        u.completion_tokens += completion_tokens
        u.total_tokens += total_tokens if total_tokens is not None else prompt_tokens + completion_tokens
        u.cost_usd += self.prices.cost(prompt_tokens, completion_tokens)
        # The prompt of a call is only known once the API answers, so a call can overshoot;
        # its reply is then not used: a cap is a cap, not a suggestion.
        b = self.caps
        if b.max_total_tokens is not None and u.total_tokens > b.max_total_tokens:
            raise BudgetExceeded("max_total_tokens", b.max_total_tokens, u.total_tokens)
        if b.max_cost_usd is not None and u.cost_usd > b.max_cost_usd:
            raise BudgetExceeded("max_cost_usd", b.max_cost_usd, round(u.cost_usd, 6))

    def record_call_without_usage(self) -> None:
        """Count a call on an endpoint that does not report usage (only iterations are known)."""
        self.usage.iterations += 1

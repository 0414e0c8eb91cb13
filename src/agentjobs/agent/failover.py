"""Model failover: the ordered endpoints one agent run may ask, and the record of each move.

A run asks its primary endpoint; when a call fails in a way another endpoint may not (the
primary unreachable, a 5xx, a 429 its waits did not clear, a request timeout) the SAME call goes
to the next endpoint, and the run stays there. Permanent errors (401, 400, a broken contract, a
spent budget) never move: the next endpoint would be refused the same way, or the run must stop.
The budget is the run's, not an endpoint's: one meter counts every call wherever it went, and a
call is priced with the prices of the endpoint that answered it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentjobs.agent.budget import BudgetMeter, Prices
from agentjobs.agent.errors import TransientAgentError
from agentjobs.agent.model_client import ModelClient

REASON_LIMIT = 300  # characters of the error kept in a failover's record


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of a run: its client (own options and rate limiter), its model's prices,
    and the name a failover record gives it (the LLM connection id)."""

    client: ModelClient
    prices: Prices = field(default_factory=Prices)
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.client.model


@dataclass
class Failover:
    """Which endpoint a run asks now, and where it moved from and why."""

    endpoints: list[Endpoint]
    index: int = 0
    moves: list[dict[str, Any]] = field(default_factory=list)
    answered_by: str | None = None  # the endpoint of the last answer (live or replayed)

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ValueError("a run needs at least one endpoint")

    @property
    def current(self) -> Endpoint:
        return self.endpoints[self.index]

    @property
    def enabled(self) -> bool:
        return len(self.endpoints) > 1

    def close(self) -> None:
        """Close every endpoint's client, the ones the run never reached too."""
        for endpoint in self.endpoints:
            endpoint.client.close()

    def move(self, error: TransientAgentError, meter: BudgetMeter) -> Endpoint | None:
        """The next endpoint after `error`, now priced in `meter`; None when none is left."""
        if self.index + 1 >= len(self.endpoints):
            return None
        before = self.current
        self.index += 1
        after = self.current
        meter.prices = after.prices
        self.moves.append(
            {
                "from": before.label,
                "to": after.label,
                "model": after.client.model,
                "reason": f"{error.kind}: {error}"[:REASON_LIMIT],
            }
        )
        return after

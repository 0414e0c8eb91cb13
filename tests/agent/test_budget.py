"""The meter on its own: caps checked before a call, spend recorded after it."""

from __future__ import annotations

import pytest

from agentjobs.agent.budget import BudgetMeter, Prices, Usage
from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import BudgetExceeded


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_iterations_cap_allows_exactly_max_calls():
    meter = BudgetMeter(Caps(max_iterations=2))
    for _ in range(2):
        meter.check_before_call()
        meter.record(1, 1)
    with pytest.raises(BudgetExceeded) as err:
        meter.check_before_call()
    assert (err.value.cap, err.value.limit, err.value.used) == ("max_iterations", 2, 2)
    assert "max_iterations limit 2, used 2" in str(err.value)


def test_token_cap_counts_the_api_total_and_fails_on_the_call_that_crosses():
    meter = BudgetMeter(Caps(max_total_tokens=250))
    meter.record(80, 20)
    meter.record(80, 20)
    with pytest.raises(BudgetExceeded) as err:
        meter.record(80, 20)
    assert err.value.cap == "max_total_tokens" and err.value.used == 300


def test_clamp_is_what_the_token_budget_has_left():
    meter = BudgetMeter(Caps(max_total_tokens=1000))
    assert meter.clamp_max_tokens(4096) == 1000
    meter.record(250, 50)
    assert meter.clamp_max_tokens(4096) == 700
    assert meter.clamp_max_tokens(100) == 100


def test_clamp_follows_the_cost_left_at_the_output_price():
    # $1 per 1M output tokens, $0.001 budget -> at most 1000 output tokens.
    meter = BudgetMeter(Caps(max_cost_usd=0.001), Prices(input_per_million=0, output_per_million=1.0))
    assert meter.clamp_max_tokens(4096) == 1000
    meter.record(0, 400)
    assert meter.clamp_max_tokens(4096) == 600


def test_cost_cap_uses_the_price_table():
    meter = BudgetMeter(Caps(max_cost_usd=0.01), Prices(input_per_million=2.0, output_per_million=8.0))
    meter.record(1000, 500)  # 0.002 + 0.004
    assert meter.usage.cost_usd == pytest.approx(0.006)
    with pytest.raises(BudgetExceeded) as err:
        meter.record(1000, 500)
    assert err.value.cap == "max_cost_usd"


def test_timeout_counts_earlier_tries_and_stops_before_the_next_call():
    clock = FakeClock()
    meter = BudgetMeter(Caps(timeout_s=60), clock=clock, elapsed_before_s=50)
    meter.check_before_call()
    clock.now += 10
    with pytest.raises(BudgetExceeded) as err:
        meter.check_before_call()
    assert err.value.cap == "timeout_s"
    assert meter.remaining_s() == pytest.approx(0)


def test_spend_of_earlier_tries_counts_against_the_caps():
    meter = BudgetMeter(Caps(max_iterations=3), usage=Usage(iterations=3, total_tokens=10))
    with pytest.raises(BudgetExceeded):
        meter.check_before_call()


@pytest.mark.parametrize("field", ["max_total_tokens", "max_cost_usd", "timeout_s", "max_context_tokens"])
def test_a_cap_of_zero_is_refused(field):
    with pytest.raises(ValueError, match=field):
        Caps(**{field: 0})


def test_usage_round_trips_through_its_dict():
    usage = Usage(iterations=2, prompt_tokens=3, completion_tokens=4, total_tokens=7, cost_usd=0.5)
    assert Usage.from_dict(usage.as_dict()) == usage

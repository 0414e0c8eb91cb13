"""The caps as one value: one set of defaults, validated once from whatever form they arrive in."""

from __future__ import annotations

import pytest

from agentjobs.agent.budget import BudgetMeter
from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import BudgetExceeded


def test_the_spec_the_operator_and_the_meter_share_one_set_of_defaults():
    from agentjobs.jobs.spec import JobSpec

    assert JobSpec.model_fields["caps"].annotation is Caps
    assert Caps().model_dump() == {
        "max_iterations": 40,
        "max_total_tokens": 60_000,
        "max_cost_usd": None,
        "timeout_s": 900,
        "max_context_tokens": None,
    }


def test_overrides_replace_only_the_caps_they_name():
    base = Caps(max_total_tokens=300, timeout_s=60)
    caps = base.overridden({"max_cost_usd": 0.5})
    assert (caps.max_total_tokens, caps.timeout_s, caps.max_cost_usd) == (300, 60, 0.5)


@pytest.mark.parametrize(
    "rendered",
    [
        '{"max_iterations": 7, "max_cost_usd": null}',  # "{{ params.caps | tojson }}"
        {"max_iterations": "7", "max_cost_usd": "None"},  # a dict of templates, each rendered
        {"max_iterations": 7, "max_cost_usd": None},
    ],
)
def test_a_rendered_value_is_coerced_per_cap_once(rendered):
    assert Caps(max_cost_usd=2).overridden(rendered) == Caps(max_iterations=7, max_cost_usd=None)


@pytest.mark.parametrize(
    ("rendered", "named"),
    [
        ({"max_iteration": 3}, "max_iteration: Extra inputs are not permitted"),
        ({"max_iterations": 7.5}, "max_iterations"),
        ({"max_iterations": True}, "max_iterations"),  # YAML's `yes` is not a count
        ({"timeout_s": 90_000}, "timeout_s: Input should be less than or equal to 86400"),
        ({"max_cost_usd": float("nan")}, "max_cost_usd"),
        ({"max_context_tokens": 0}, "max_context_tokens"),
        ("{'max_iterations': 3}", "a JSON object"),
        ("[1, 2]", "a mapping"),
    ],
)
def test_a_bad_cap_is_named_with_the_fix(rendered, named):
    with pytest.raises(ValueError, match="caps") as err:
        Caps.of(rendered)
    assert named in str(err.value)


def test_the_context_cap_refuses_a_counted_prompt_over_it_and_passes_one_at_it():
    meter = BudgetMeter(Caps(max_context_tokens=100))
    assert meter.counts_prompts and not BudgetMeter(Caps()).counts_prompts
    meter.check_before_call(100)
    with pytest.raises(BudgetExceeded) as err:
        meter.check_before_call(101)
    assert (err.value.cap, err.value.limit, err.value.used) == ("max_context_tokens", 100, 101)

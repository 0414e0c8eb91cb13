"""The run's policy in the agent runtime, without Airflow: caps that could never trip, a plan
that answers without a call, the skill's contract and the empty check, what leaves scrubbed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from agentjobs.agent.budget import BudgetMeter, Prices
from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import ContractViolation, PermanentAgentError
from agentjobs.agent.model_client import EndpointOptions, ModelClient
from agentjobs.agent.plan import RunPlan
from agentjobs.agent.runner import (
    EmptyResult,
    answer_plan,
    check_caps_enforceable,
    checked_endpoint,
    scrub_failure,
    settle,
)
from agentjobs.agent.skills import load_skill
from tests.fakes.model_server import reply

SKILLS = Path(__file__).resolve().parents[2] / "include" / "skills"
KEY = "sk-test-policy-key-0123456789"


@pytest.fixture
def client(model_server) -> Iterator[ModelClient]:
    sdk = openai.OpenAI(base_url=model_server.base_url, api_key=KEY, max_retries=0)
    model = ModelClient(sdk, "policy-model", EndpointOptions(request_timeout_s=10))
    yield model
    model.close()


def echo_plan(tmp_path: Path, **fields) -> RunPlan:
    return RunPlan(prompt="alpha", **fields).bind(load_skill("echo", SKILLS), tmp_path, secrets=[KEY])


def test_a_cap_the_endpoint_cannot_enforce_is_refused_before_any_call():
    no_usage = EndpointOptions(reports_usage=False)
    with pytest.raises(PermanentAgentError, match="does not report usage, so max_total_tokens"):
        check_caps_enforceable(Caps(), no_usage, Prices(), "m")
    check_caps_enforceable(Caps(max_total_tokens=None), no_usage, Prices(), "m")
    with pytest.raises(PermanentAgentError, match=r"no price for model 'm'.*prices extra"):
        check_caps_enforceable(Caps(max_cost_usd=0.5), EndpointOptions(), None, "m")
    check_caps_enforceable(Caps(max_cost_usd=None), EndpointOptions(), None, "m")


def test_a_plan_with_its_own_answer_calls_no_model(tmp_path, client, model_server):
    plan = echo_plan(tmp_path, answer={"path": "answer.txt", "items": 2})
    answer, model = answer_plan(plan, client, BudgetMeter(Caps()))
    assert answer == {"path": "answer.txt", "items": 2} and model == "policy-model"
    assert model_server.calls == 0


def test_the_model_answers_a_plan_and_the_endpoint_names_the_model(tmp_path, client, model_server):
    model_server.script(reply('RESULT: {"path": "answer.txt", "items": 1}'))
    meter = BudgetMeter(Caps())
    answer, model = answer_plan(echo_plan(tmp_path), client, meter)
    assert answer == {"path": "answer.txt", "items": 1} and model == "scripted"
    assert meter.usage.iterations == 1


def test_the_skills_contract_has_the_last_word_over_the_jobs_finish(tmp_path):
    plan = echo_plan(tmp_path)
    with pytest.raises(ContractViolation, match="items"):
        settle(plan, {"path": "answer.txt", "items": 1}, finish=lambda answer: {"path": "answer.txt"})
    assert settle(plan, {"path": "a", "items": 1}, finish=lambda a: {**a, "items": 4}) == {
        "path": "a",
        "items": 4,
    }


def test_an_empty_result_fails_unless_the_job_allows_it(tmp_path):
    plan = echo_plan(tmp_path)
    with pytest.raises(EmptyResult, match=r"'items' is 0.*allow_empty=True"):
        settle(plan, {"path": "answer.txt", "items": 0})
    assert settle(plan, {"path": "answer.txt", "items": 0}, allow_empty=True)["items"] == 0


def test_what_leaves_the_run_is_scrubbed(tmp_path):
    assert settle(echo_plan(tmp_path), {"path": f"key {KEY}", "items": 1})["path"] == "key ***"
    try:
        try:
            raise ValueError(f"endpoint said: bad key {KEY}")
        except ValueError as cause:
            raise RuntimeError(KEY + "x" * 2000) from cause
    except RuntimeError as exc:
        text = scrub_failure(exc, [KEY])
        assert text.startswith("RuntimeError: ***x") and len(text) == 1000
        assert KEY not in str(exc) and KEY not in str(exc.__cause__)  # the log renders the chain


def test_an_output_type_is_the_contract_and_the_result_is_its_json(tmp_path):
    import pydantic

    class Verdict(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(populate_by_name=True)
        open_eur: float = pydantic.Field(alias="openEur")
        due: str

    plan = echo_plan(tmp_path, output_type=Verdict)
    # The model's own JSON (its model_dump): field names, JSON types; no skill field asked for.
    assert settle(plan, {"openEur": 1000, "due": "2026-11-01"}) == {"open_eur": 1000.0, "due": "2026-11-01"}
    with pytest.raises(ContractViolation, match="due: Field required"):
        settle(plan, {"openEur": 1000})


def test_a_toolsets_tools_reach_the_model_and_it_is_closed_after_the_run(tmp_path, client, model_server):
    from tests.agent.test_toolset import Recording
    from tests.fakes.model_server import tool_call

    log: list[str] = []
    model_server.script(
        tool_call("stock", {"text": "three little words"}),
        reply('RESULT: {"path": "answer.txt", "items": 3}'),
    )
    plan = echo_plan(tmp_path, toolsets=[Recording("stock", log)])
    answer, _ = answer_plan(plan, client, BudgetMeter(Caps()))
    assert answer["items"] == 3
    offered = [spec["function"]["name"] for spec in model_server.requests[0].body["tools"]]
    assert "stock" in offered
    tool_message = model_server.requests[1].body["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "3"
    assert log == ["open stock", "close stock"]


def test_an_endpoint_is_checked_against_the_caps_and_one_without_prices_costs_nothing(client):
    with pytest.raises(PermanentAgentError, match="no price for model 'policy-model'"):
        checked_endpoint(Caps(max_cost_usd=0.5), client, None, "backup")
    endpoint = checked_endpoint(Caps(max_cost_usd=None), client, None, "backup")
    assert endpoint.label == "backup" and endpoint.prices == Prices()
    priced = Prices(input_per_million=1.0, output_per_million=2.0)
    assert checked_endpoint(Caps(max_cost_usd=0.5), client, priced, "main").prices == priced

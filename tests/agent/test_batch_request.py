"""The Batch API's request lines: the online structured call's very request, one a team."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from agentjobs.agent.batch_request import batch_key, batch_prices, jsonl, request_line
from agentjobs.agent.budget import BudgetMeter, Prices
from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import BudgetExceeded, PermanentAgentError
from agentjobs.agent.model_client import EndpointOptions, ModelClient
from agentjobs.agent.plan import RunPlan
from agentjobs.agent.runner import answer_plan
from agentjobs.agent.skills import load_skill
from tests.fakes.model_server import reply

SKILLS = Path(__file__).resolve().parents[2] / "include" / "skills"


@pytest.fixture
def client(model_server) -> Iterator[ModelClient]:
    sdk = openai.OpenAI(base_url=model_server.base_url, api_key="sk-test", max_retries=0)
    model = ModelClient(sdk, "batch-model", EndpointOptions(request_timeout_s=10, max_tokens_per_call=800))
    yield model
    model.close()


def structured_plan(tmp_path: Path, prompt: str = "alpha\nbeta", mode: str = "structured") -> RunPlan:
    return RunPlan(prompt=prompt, mode=mode).bind(load_skill("echo", SKILLS), tmp_path)  # type: ignore[arg-type]


def test_a_batch_line_is_the_request_the_online_call_sends(tmp_path, client, model_server):
    model_server.script(reply('{"path": "answer.txt", "items": 2}'))
    answer_plan(structured_plan(tmp_path / "online"), client, BudgetMeter(Caps()))
    sent_online = model_server.requests[0].body
    line = request_line("team-1", structured_plan(tmp_path / "batch"), client, BudgetMeter(Caps()))
    assert line == {
        "custom_id": "team-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": sent_online,
    }
    assert line["body"]["response_format"]["type"] == "json_schema" and line["body"]["max_tokens"] == 800


def test_max_tokens_is_clamped_to_what_the_caps_leave_and_a_prompt_over_its_cap_is_not_sent(tmp_path, client):
    line = request_line("t", structured_plan(tmp_path), client, BudgetMeter(Caps(max_total_tokens=300)))
    assert line["body"]["max_tokens"] == 300
    with pytest.raises(BudgetExceeded, match="max_context_tokens"):
        request_line(
            "t", structured_plan(tmp_path, "x " * 500), client, BudgetMeter(Caps(max_context_tokens=50))
        )


def test_a_loop_mode_skill_cannot_go_through_the_batch_api(tmp_path, client):
    with pytest.raises(PermanentAgentError, match=r"runs in loop mode; only structured mode.*mode: batch"):
        request_line("t", structured_plan(tmp_path, mode="loop"), client, BudgetMeter(Caps()))


def test_team_keys_are_safe_stable_and_kept_apart():
    hostile = '../../etc/passwd"\n{"custom_id":"x"}'
    key = batch_key(hostile)
    assert key == batch_key(hostile) and all(c.isalnum() or c in "_.-" for c in key) and len(key) <= 51
    assert batch_key("a/b") != batch_key("a_b") and batch_key("sales").startswith("sales-")
    assert batch_key("").startswith("team-")


def test_the_input_file_is_one_json_object_a_line_and_refuses_a_repeated_key():
    lines = [{"custom_id": "a", "body": {"x": "é\n"}}, {"custom_id": "b", "body": {}}]
    text = jsonl(lines).decode()
    assert [json.loads(row) for row in text.splitlines()] == lines and text.count("\n") == 2
    with pytest.raises(ValueError, match="'a' appears twice"):
        jsonl([lines[0], lines[0]])
    with pytest.raises(ValueError, match="at least one"):
        jsonl([])


def test_the_batch_price_is_half_the_models():
    assert batch_prices(Prices(0.15, 0.6)) == Prices(0.075, 0.3)

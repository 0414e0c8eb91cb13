"""A 429 with Retry-After is waited out inside the run (nothing was spent); anything else about a
rate limit still fails the try, so the task's retry and its backoff take over."""

from __future__ import annotations

import json
import time

import pytest

from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import BudgetExceeded, RateLimited
from agentjobs.agent.model_client import EndpointOptions
from agentjobs.agent.transcript import Transcript
from tests.agent.test_loop import GOOD, make_agent, run
from tests.fakes.model_server import error, reply


def test_a_429_with_retry_after_is_waited_out_and_the_run_succeeds(model_server, tmp_path):
    model_server.script(
        error(429, "Rate limit reached for requests", retry_after=0.4),
        error(429, "Rate limit reached for requests", retry_after=0.4),
        reply(GOOD, prompt_tokens=100, completion_tokens=10),
    )
    path = tmp_path / "transcript.jsonl"
    agent = make_agent(model_server, tmp_path, transcript=Transcript(path))
    started = time.monotonic()
    result = run(agent)
    agent.transcript.close()
    assert result.result.items == 2
    assert time.monotonic() - started >= 0.8  # it waited what the endpoint asked, twice
    assert model_server.calls == 3
    # The refused calls cost nothing: one iteration, the tokens of the one answered call.
    assert result.usage.iterations == 1 and result.usage.total_tokens == 110
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    waits = [e for e in events if e["event"] == "rate_limited"]
    assert [w["wait_s"] for w in waits] == [0.4, 0.4]
    assert "HTTP 429" in waits[0]["error"]


def test_the_waits_of_one_call_are_bounded_then_the_try_fails(model_server, tmp_path):
    model_server.default_step = error(429, "slow down", retry_after=0.1)
    agent = make_agent(
        model_server, tmp_path, options=EndpointOptions(request_timeout_s=10, rate_limit_waits=2)
    )
    with pytest.raises(RateLimited) as err:
        run(agent)
    assert model_server.calls == 3  # the call and its two waited-out repeats, no more
    assert err.value.retry_after_s == 0.1


def test_a_wait_past_the_time_cap_is_not_taken(model_server, tmp_path):
    # Waiting 30 s inside a 2 s budget would only end at the cap: fail the try now instead.
    model_server.script(error(429, retry_after=30), reply(GOOD))
    agent = make_agent(model_server, tmp_path, budget=Caps(timeout_s=2))
    started = time.monotonic()
    with pytest.raises(RateLimited):
        run(agent)
    assert time.monotonic() - started < 1.5 and model_server.calls == 1


def test_a_long_retry_after_is_an_outage_not_a_rate_limit(model_server, tmp_path):
    model_server.script(error(429, retry_after=3600), reply(GOOD))
    with pytest.raises(RateLimited):
        run(make_agent(model_server, tmp_path))
    assert model_server.calls == 1


def test_waiting_can_be_turned_off_in_the_connection(model_server, tmp_path):
    model_server.script(error(429, retry_after=0), reply(GOOD))
    agent = make_agent(
        model_server, tmp_path, options=EndpointOptions(request_timeout_s=10, rate_limit_waits=0)
    )
    with pytest.raises(RateLimited):
        run(agent)
    assert model_server.calls == 1


def test_the_time_spent_waiting_counts_against_the_time_cap(model_server, tmp_path):
    model_server.script(error(429, retry_after=0.6), error(429, retry_after=0.6), reply(GOOD))
    agent = make_agent(model_server, tmp_path, budget=Caps(timeout_s=1.0))
    with pytest.raises((BudgetExceeded, RateLimited)):
        run(agent)
    assert model_server.calls <= 2  # the second wait would cross the cap

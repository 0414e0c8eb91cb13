"""Model failover against real loopback endpoints failing in each way a primary can fail."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from pydantic import BaseModel, ConfigDict

from agentjobs.agent.budget import BudgetMeter, Prices
from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import BudgetExceeded, ModelRequestError, TransientAgentError
from agentjobs.agent.failover import Endpoint, Failover
from agentjobs.agent.loop import Agent
from agentjobs.agent.model_client import EndpointOptions, ModelClient
from agentjobs.agent.replay import ReplayCache
from agentjobs.agent.transcript import Transcript
from tests.fakes.model_server import ScriptedModelServer, error, reply, slow

GOOD = 'Done.\nRESULT: {"items": 2}'


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    items: int


@pytest.fixture
def backup() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture
def third() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def client(base_url: str, model: str, **options: object) -> ModelClient:
    settings: dict[str, object] = {"request_timeout_s": 5, "rate_limit_waits": 1, **options}
    opts = EndpointOptions(**settings)  # type: ignore[arg-type]
    return ModelClient(openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0), model, opts)


def agent_over(
    endpoints: list[Endpoint], tmp_path: Path, caps: Caps | None = None, replay: ReplayCache | None = None
) -> Agent:
    failover = Failover(endpoints)
    meter = BudgetMeter(caps or Caps(), endpoints[0].prices)
    transcript = Transcript(tmp_path / "transcript.jsonl")
    return Agent(
        client=endpoints[0].client, meter=meter, failover=failover, transcript=transcript, replay=replay
    )


def run(agent: Agent):
    with agent.transcript:
        return agent.run(system="sys", prompt="go", result_model=Answer)


def events(tmp_path: Path) -> list[str]:
    import json

    return [json.loads(line)["event"] for line in (tmp_path / "transcript.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(error(500), id="500"),
        pytest.param(error(503), id="503"),
        pytest.param(error(429, retry_after=0.01), id="429-beyond-waits"),
    ],
)
def test_a_failing_primary_hands_the_same_call_to_the_fallback(model_server, backup, tmp_path, failure):
    model_server.script(failure, failure)  # a 429 is waited out once (rate_limit_waits=1), then moves
    backup.script(reply(GOOD, model="backup-model"))
    agent = agent_over(
        [
            Endpoint(client(model_server.base_url, "main"), name="primary"),
            Endpoint(client(backup.base_url, "backup-model"), name="backup"),
        ],
        tmp_path,
    )
    result = run(agent)
    assert result.result == Answer(items=2)
    assert result.model == "backup-model"
    assert agent.failover.answered_by == "backup"
    [move] = agent.failover.moves
    assert (move["from"], move["to"], move["model"]) == ("primary", "backup", "backup-model")
    assert move["reason"].startswith("rate_limited" if failure.status == 429 else "server_error")
    # The very same question, asked of the fallback's own model.
    assert backup.requests[0].body["messages"] == model_server.requests[0].body["messages"]
    assert backup.requests[0].body["model"] == "backup-model"
    assert "failover" in events(tmp_path)


def test_an_unreachable_primary_and_a_timing_out_second_move_on_to_the_third(model_server, backup, tmp_path):
    model_server.script(slow(2.0, reply(GOOD)))
    backup.script(reply(GOOD, model="third-model"))
    agent = agent_over(
        [
            Endpoint(client(closed_port_url(), "main"), name="down"),
            Endpoint(client(model_server.base_url, "slow", request_timeout_s=0.3), name="slow"),
            Endpoint(client(backup.base_url, "third-model"), name="third"),
        ],
        tmp_path,
    )
    run(agent)
    assert [(m["from"], m["to"]) for m in agent.failover.moves] == [("down", "slow"), ("slow", "third")]
    assert agent.failover.moves[0]["reason"].startswith("connection")
    assert agent.failover.moves[1]["reason"].startswith("timeout")
    assert agent.failover.answered_by == "third"


def test_a_refused_key_does_not_fail_over(model_server, backup, tmp_path):
    model_server.script(error(401, "bad key"))
    agent = agent_over(
        [
            Endpoint(client(model_server.base_url, "main"), name="primary"),
            Endpoint(client(backup.base_url, "b"), name="backup"),
        ],
        tmp_path,
    )
    with pytest.raises(ModelRequestError, match="401"):
        run(agent)
    assert backup.calls == 0 and agent.failover.moves == []


def test_when_every_endpoint_fails_the_last_error_fails_the_try(model_server, backup, tmp_path):
    model_server.script(error(503))
    backup.script(error(502, "backup down too"))
    agent = agent_over(
        [
            Endpoint(client(model_server.base_url, "main"), name="primary"),
            Endpoint(client(backup.base_url, "b"), name="backup"),
        ],
        tmp_path,
    )
    with pytest.raises(TransientAgentError, match="backup down too"):
        run(agent)
    assert len(agent.failover.moves) == 1


def test_one_budget_across_endpoints_priced_by_the_model_that_answered(model_server, backup, third, tmp_path):
    # The primary answers one tool-less turn that breaks the contract, then fails: the repair turn
    # goes to the backup, whose price differs; the iteration cap counts both endpoints' calls.
    model_server.script(reply("no result line", prompt_tokens=1000, completion_tokens=0), error(503))
    backup.script(reply(GOOD, prompt_tokens=1000, completion_tokens=0))
    agent = agent_over(
        [
            Endpoint(client(model_server.base_url, "main"), Prices(1.0, 1.0), name="primary"),
            Endpoint(client(backup.base_url, "b"), Prices(10.0, 10.0), name="backup"),
        ],
        tmp_path,
    )
    result = run(agent)
    assert result.usage.iterations == 2
    assert result.usage.cost_usd == pytest.approx(0.001 + 0.01)

    model_server.reset()
    backup.reset()
    model_server.script(error(503))
    backup.script(reply(GOOD))
    capped = agent_over(
        [
            Endpoint(client(model_server.base_url, "main"), name="primary"),
            Endpoint(client(backup.base_url, "b"), name="backup"),
        ],
        tmp_path,
        caps=Caps(max_iterations=1),
    )
    capped.meter.usage.iterations = 1  # an earlier try spent the only iteration
    with pytest.raises(BudgetExceeded, match="iterations"):
        run(capped)
    assert model_server.calls == 0 and backup.calls == 0 and capped.failover.moves == []


def test_a_retry_replays_what_the_fallback_answered_without_a_new_call(model_server, backup, tmp_path):
    model_server.script(error(503))
    backup.script(reply(GOOD, model="backup-model"))
    cache = ReplayCache()

    def endpoints() -> list[Endpoint]:
        return [
            Endpoint(client(model_server.base_url, "main"), name="primary"),
            Endpoint(client(backup.base_url, "backup-model"), name="backup"),
        ]

    run(agent_over(endpoints(), tmp_path, replay=cache))
    retry = agent_over(endpoints(), tmp_path, replay=ReplayCache(dict(cache.entries)))
    result = run(retry)  # a retry starts at the primary again: its key finds the backup's answer
    assert result.model == "backup-model"
    assert retry.replay is not None and retry.replay.replayed == 1
    assert model_server.calls == 1 and backup.calls == 1
    assert retry.failover.answered_by == "backup" and retry.failover.moves == []


def test_a_structured_call_is_asked_in_the_fallbacks_own_dialect(model_server, backup, tmp_path):
    model_server.script(error(503))
    backup.script(reply('{"items": 2}'))
    agent = agent_over(
        [
            Endpoint(client(model_server.base_url, "main"), name="primary"),
            Endpoint(client(backup.base_url, "llama", structured_dialect="json_object_schema"), name="llama"),
        ],
        tmp_path,
    )
    with agent.transcript:
        result = agent.run(system="sys", prompt="go", result_model=Answer, mode="structured")
    assert result.result == Answer(items=2)
    assert model_server.requests[0].body["response_format"]["type"] == "json_schema"
    sent = backup.requests[0].body["response_format"]
    assert sent["type"] == "json_object" and sent["schema"]["properties"]["items"]["type"] == "integer"


def test_closing_the_run_closes_every_endpoint_the_unreached_fallbacks_too(model_server, backup):
    endpoints = [
        Endpoint(client(server.base_url, "m"), name=f"e{i}")
        for i, server in enumerate([model_server, backup])
    ]
    Failover(endpoints).close()
    assert all(endpoint.client.client.is_closed() for endpoint in endpoints)

"""The tool loop against a real HTTP server speaking the chat completions API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from pydantic import BaseModel, ConfigDict

from agentjobs.agent import prompt_size
from agentjobs.agent.budget import BudgetMeter, Prices
from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import BudgetExceeded, ContractViolation, ModelRequestError, TransientAgentError
from agentjobs.agent.loop import Agent
from agentjobs.agent.model_client import EndpointOptions, ModelClient
from agentjobs.agent.permissions import PermissionEngine
from agentjobs.agent.tools import ToolRegistry, builtin_tools
from agentjobs.agent.transcript import Transcript
from tests.fakes.model_server import error, reply, respond, slow, tool_call, tool_calls


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    path: str
    items: int


GOOD = 'Done.\nRESULT: {"path": "answer.txt", "items": 2}'


def make_agent(server, tmp_path: Path, budget: Caps | None = None, **kwargs) -> Agent:
    options = kwargs.pop("options", EndpointOptions(max_tokens_per_call=4096, request_timeout_s=10))
    client = ModelClient(
        openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0), "m", options
    )
    engine = PermissionEngine(tmp_path, write_allowlist=["answer.txt"])
    registry = ToolRegistry()
    for tool in builtin_tools(engine):
        registry.register(tool)
    prices = kwargs.pop("prices", Prices())
    return Agent(client=client, meter=BudgetMeter(budget or Caps(), prices), tools=registry, **kwargs)


def run(agent: Agent, **kwargs):
    return agent.run(system="sys", prompt="go", result_model=Answer, **kwargs)


def test_final_answer_is_parsed_and_usage_comes_from_the_api(model_server, tmp_path):
    model_server.script(reply(GOOD, prompt_tokens=123, completion_tokens=45))
    result = run(make_agent(model_server, tmp_path))
    assert result.result == Answer(path="answer.txt", items=2)
    assert result.usage.as_dict() == {
        "iterations": 1,
        "prompt_tokens": 123,
        "completion_tokens": 45,
        "total_tokens": 168,
        "cost_usd": 0.0,
    }


def test_tool_calls_run_and_their_results_go_back_to_the_model(model_server, tmp_path):
    (tmp_path / "notes.txt").write_text("the answer is two")
    model_server.script(
        tool_call("read_file", {"path": "notes.txt"}, call_id="c1"),
        tool_call("write_file", {"path": "answer.txt", "content": "2"}, call_id="c2"),
        reply(GOOD),
    )
    agent = make_agent(model_server, tmp_path)
    result = run(agent)
    assert (tmp_path / "answer.txt").read_text() == "2"
    second = model_server.requests[1].body["messages"]
    assert second[-1] == {"role": "tool", "tool_call_id": "c1", "content": "the answer is two"}
    assert {t["function"]["name"] for t in model_server.requests[0].body["tools"]} >= {
        "read_file",
        "write_file",
    }
    assert result.tool_sequence == ["read_file", "write_file"]
    assert result.usage.iterations == 3


def test_several_tool_calls_in_one_reply_each_get_an_answer(model_server, tmp_path):
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "b.txt").write_text("B")
    model_server.script(
        tool_calls([("read_file", {"path": "a.txt"}, "ca"), ("read_file", {"path": "b.txt"}, "cb")]),
        reply(GOOD),
    )
    run(make_agent(model_server, tmp_path))
    tool_messages = [m for m in model_server.requests[1].body["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [("ca", "A"), ("cb", "B")]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (tool_call("no_such_tool", {}), "no_such_tool"),
        (tool_call("read_file", "{not json"), "ERROR"),
        (tool_call("read_file", {"wrong": 1}), "ERROR"),
        (tool_call("read_file", {"path": "../../etc/passwd"}), "ERROR"),
        (tool_call("write_file", {"path": "other.txt", "content": "x"}), "allowlist"),
    ],
    ids=["unknown-tool", "malformed-json", "bad-arguments", "traversal", "write-not-allowed"],
)
def test_tool_errors_are_fed_back_and_the_run_goes_on(model_server, tmp_path, step, expected):
    model_server.script(step, reply(GOOD))
    agent = make_agent(model_server, tmp_path)
    result = run(agent)
    fed_back = model_server.requests[1].body["messages"][-1]
    assert fed_back["role"] == "tool"
    assert fed_back["content"].startswith("ERROR") and expected in fed_back["content"]
    assert result.usage.iterations == 2  # the failed tool turn still counted
    assert not (tmp_path / "other.txt").exists()


def test_iteration_cap_stops_at_exactly_the_cap(model_server, tmp_path):
    model_server.default_step = tool_call("list_files", {})
    agent = make_agent(model_server, tmp_path, Caps(max_iterations=3))
    with pytest.raises(BudgetExceeded) as err:
        run(agent)
    assert err.value.cap == "max_iterations"
    assert model_server.calls == 3


def test_token_cap_stops_before_the_call_that_has_nothing_left(model_server, tmp_path):
    model_server.default_step = tool_call("list_files", {}, prompt_tokens=80, completion_tokens=20)
    agent = make_agent(model_server, tmp_path, Caps(max_total_tokens=200))
    with pytest.raises(BudgetExceeded) as err:
        run(agent)
    assert (err.value.cap, err.value.used) == ("max_total_tokens", 200)
    assert model_server.calls == 2


def test_token_cap_fails_on_the_reply_that_crosses_it(model_server, tmp_path):
    model_server.script(tool_call("list_files", {}, prompt_tokens=80, completion_tokens=20))
    model_server.script(reply(GOOD, prompt_tokens=150, completion_tokens=20))
    agent = make_agent(model_server, tmp_path, Caps(max_total_tokens=250))
    with pytest.raises(BudgetExceeded) as err:
        run(agent)
    assert err.value.used == 270
    assert model_server.calls == 2


def test_max_tokens_of_each_call_is_clamped_to_the_budget_left(model_server, tmp_path):
    model_server.script(
        tool_call("list_files", {}, prompt_tokens=250, completion_tokens=50),
        reply(GOOD, prompt_tokens=300, completion_tokens=10),
    )
    run(make_agent(model_server, tmp_path, Caps(max_total_tokens=1000)))
    assert [r.body["max_tokens"] for r in model_server.requests] == [1000, 700]


def test_clamp_uses_the_connection_parameter_name(model_server, tmp_path):
    model_server.script(reply(GOOD))
    options = EndpointOptions(max_tokens_param="max_completion_tokens", max_tokens_per_call=512)
    run(make_agent(model_server, tmp_path, options=options))
    body = model_server.requests[0].body
    assert body["max_completion_tokens"] == 512 and "max_tokens" not in body


def test_cost_cap_stops_the_loop(model_server, tmp_path):
    model_server.default_step = tool_call("list_files", {}, prompt_tokens=1000, completion_tokens=1000)
    prices = Prices(input_per_million=1.0, output_per_million=4.0)  # $0.005 a call
    agent = make_agent(model_server, tmp_path, Caps(max_cost_usd=0.012), prices=prices)
    with pytest.raises(BudgetExceeded) as err:
        run(agent)
    assert err.value.cap == "max_cost_usd"
    assert model_server.calls == 3
    assert agent.meter.usage.cost_usd == pytest.approx(0.015)


def test_time_cap_cuts_a_model_that_never_answers(model_server, tmp_path):
    model_server.script(slow(30, reply(GOOD)))
    agent = make_agent(model_server, tmp_path, Caps(timeout_s=0.5))
    with pytest.raises(BudgetExceeded) as err:
        run(agent)
    assert err.value.cap == "timeout_s"
    assert agent.meter.elapsed_s < 5


def test_context_cap_refuses_a_prompt_too_big_before_any_call(model_server, tmp_path):
    model_server.default_step = reply(GOOD)
    agent = make_agent(model_server, tmp_path, Caps(max_context_tokens=5_000))
    with pytest.raises(BudgetExceeded) as err:
        agent.run(system="sys", prompt="word " * 8_000, result_model=Answer)  # 40,000 bytes
    assert (err.value.cap, err.value.limit) == ("max_context_tokens", 5_000)
    assert err.value.used > 10_000
    assert "max_context_tokens limit 5000" in str(err.value)
    assert model_server.calls == 0  # the endpoint never saw the prompt
    assert agent.meter.usage.iterations == 0


def test_context_cap_counts_the_history_before_each_call(model_server, tmp_path):
    (tmp_path / "big.txt").write_text("line of text\n" * 3_000)  # cut to the tools' 20,000 characters
    model_server.script(tool_call("read_file", {"path": "big.txt"}, call_id="c1"))
    model_server.default_step = reply(GOOD)
    agent = make_agent(model_server, tmp_path, Caps(max_context_tokens=5_000))
    with pytest.raises(BudgetExceeded) as err:
        run(agent)
    # The first prompt (system, task, tool definitions) was under the cap and sent; the second
    # would have carried the file back, so it was not.
    assert model_server.calls == 1
    first = model_server.requests[0].body
    first_tokens = prompt_size.prompt_tokens(first["messages"], first["tools"])
    assert first_tokens < 5_000
    assert err.value.cap == "max_context_tokens" and err.value.used - first_tokens >= 5_000


def test_context_cap_lets_a_prompt_under_it_through(model_server, tmp_path):
    (tmp_path / "notes.txt").write_text("the answer is two")
    model_server.script(tool_call("read_file", {"path": "notes.txt"}, call_id="c1"), reply(GOOD))
    result = run(make_agent(model_server, tmp_path, Caps(max_context_tokens=5_000)))
    assert result.result == Answer(path="answer.txt", items=2)
    assert model_server.calls == 2


def test_a_reply_without_usage_is_an_error(model_server, tmp_path):
    model_server.script(reply(GOOD, usage=False))
    with pytest.raises(ModelRequestError, match="usage"):
        run(make_agent(model_server, tmp_path))


def test_a_reply_without_usage_is_fine_when_the_connection_says_so(model_server, tmp_path):
    model_server.script(reply(GOOD, usage=False))
    result = run(make_agent(model_server, tmp_path, options=EndpointOptions(reports_usage=False)))
    assert result.usage.iterations == 1 and result.usage.total_tokens == 0


@pytest.mark.parametrize(
    ("step", "exc", "retry_after"),
    [
        (error(429), TransientAgentError, None),  # no Retry-After: the task's retry decides when
        (error(500), TransientAgentError, None),
        (error(503), TransientAgentError, None),
        (error(400), ModelRequestError, None),
        (error(401), ModelRequestError, None),
        (error(403), ModelRequestError, None),
    ],
)
def test_endpoint_errors_are_sorted_into_transient_and_permanent(
    model_server, tmp_path, step, exc, retry_after
):
    model_server.script(step)
    with pytest.raises(exc) as err:
        run(make_agent(model_server, tmp_path))
    assert isinstance(err.value, exc)
    if retry_after is not None:
        assert err.value.retry_after_s == retry_after
    assert model_server.calls == 1  # no silent in-process retry that would spend again


def test_contract_violation_gets_one_repair_turn(model_server, tmp_path):
    model_server.script(reply("All done, no result line."), reply(GOOD))
    result = run(make_agent(model_server, tmp_path))
    assert result.result.items == 2
    repair = model_server.requests[1].body["messages"][-1]
    assert repair["role"] == "user" and "no RESULT line" in repair["content"]
    assert result.usage.iterations == 2


def test_contract_violation_after_the_repairs_fails(model_server, tmp_path):
    model_server.script(reply("nope"), reply('RESULT: {"path": "a", "items": "2"}'))
    with pytest.raises(ContractViolation):
        run(make_agent(model_server, tmp_path))
    assert model_server.calls == 2


def test_no_repair_when_repairs_are_off(model_server, tmp_path):
    model_server.script(reply("nope"))
    with pytest.raises(ContractViolation):
        run(make_agent(model_server, tmp_path, max_repairs=0))
    assert model_server.calls == 1


def test_a_repair_counts_against_the_budget(model_server, tmp_path):
    model_server.script(reply("nope"), reply(GOOD))
    with pytest.raises(BudgetExceeded):
        run(make_agent(model_server, tmp_path, Caps(max_iterations=1)))
    assert model_server.calls == 1


def _schema_echo(request):
    """Answer a structured request with an object built from the schema it carried."""
    schema = request.body["response_format"]
    return (
        reply(json.dumps({"path": "answer.txt", "items": 1}), prompt_tokens=7, completion_tokens=3)
        if schema
        else reply("")
    )


def test_structured_mode_sends_openai_json_schema(model_server, tmp_path):
    model_server.script(respond(_schema_echo))
    schema = {"type": "object", "properties": {"path": {"type": "string"}, "items": {"type": "integer"}}}
    result = run(make_agent(model_server, tmp_path), mode="structured", schema=schema, schema_name="echo")
    body = model_server.requests[0].body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "echo", "schema": schema, "strict": True},
    }
    assert "tools" not in body
    assert result.result.items == 1


def test_structured_mode_speaks_the_llama_cpp_python_dialect(model_server, tmp_path):
    model_server.script(respond(_schema_echo))
    schema = {"type": "object"}
    options = EndpointOptions(structured_dialect="json_object_schema")
    run(make_agent(model_server, tmp_path, options=options), mode="structured", schema=schema)
    assert model_server.requests[0].body["response_format"] == {"type": "json_object", "schema": schema}


def test_structured_mode_repairs_invalid_json(model_server, tmp_path):
    model_server.script(reply('{"path": "answer.txt"}'), reply('{"path": "answer.txt", "items": 4}'))
    result = run(make_agent(model_server, tmp_path), mode="structured")
    assert result.result.items == 4
    assert "items" in model_server.requests[1].body["messages"][-1]["content"]


def test_replay_answers_the_same_request_without_calling_the_model(model_server, tmp_path):
    from agentjobs.agent.replay import ReplayCache

    cache = ReplayCache()
    model_server.script(reply(GOOD, prompt_tokens=50, completion_tokens=5))
    first = run(make_agent(model_server, tmp_path, replay=cache))
    assert first.usage.iterations == 1 and len(cache.entries) == 1

    again = make_agent(model_server, tmp_path, replay=cache)
    result = run(again)
    assert result.result == first.result
    assert model_server.calls == 1  # answered from the cache
    assert again.meter.usage.iterations == 0 and cache.replayed == 1  # and not counted again


def test_a_changed_request_runs_live(model_server, tmp_path):
    from agentjobs.agent.replay import ReplayCache

    cache = ReplayCache()
    model_server.default_step = reply(GOOD)
    run(make_agent(model_server, tmp_path, replay=cache))
    make_agent(model_server, tmp_path, replay=cache).run(system="sys", prompt="changed", result_model=Answer)
    assert model_server.calls == 2
    assert len(cache.entries) == 2


DEEP_RESULT = 'RESULT: {"path": ' + "[" * 10_000 + "]" * 10_000 + ', "items": 1}'
HUGE_RESULT = 'RESULT: {"path": "a", "items": 1' + "0" * 5_000 + "}"


@pytest.mark.parametrize(
    ("bad", "problem"),
    [(DEEP_RESULT, "nests JSON more than 64 levels deep"), (HUGE_RESULT, "integer of more than 4300 digits")],
    ids=["10000-levels", "5000-digits"],
)
def test_a_hostile_result_gets_the_repair_turn_then_fails_as_a_contract_violation(
    model_server, tmp_path, bad, problem
):
    model_server.script(reply(bad), reply(GOOD))
    result = run(make_agent(model_server, tmp_path))
    assert result.result.items == 2
    repair = model_server.requests[1].body["messages"][-1]
    assert repair["role"] == "user" and problem in repair["content"]

    model_server.reset()
    model_server.script(reply(bad), reply(bad))
    with pytest.raises(ContractViolation, match=problem):
        run(make_agent(model_server, tmp_path))
    assert model_server.calls == 2


def test_a_structured_answer_too_deep_to_serialise_gets_the_repair_turn(model_server, tmp_path):
    class Loose(BaseModel):
        data: Any

    nested = json.dumps({"data": json.loads("[" * 300 + "]" * 300)})
    model_server.script(reply(nested), reply('{"data": [1]}'))
    agent = make_agent(model_server, tmp_path)
    result = agent.run(system="sys", prompt="go", result_model=Loose, mode="structured")
    assert result.result.data == [1]
    assert "nests JSON more than 64 levels deep" in model_server.requests[1].body["messages"][-1]["content"]


def test_untrusted_text_with_escaped_quotes_leaves_a_transcript_of_json_lines(model_server, tmp_path):
    # A file the agent reads quotes a shell line; scrubbing the encoded line ate the escaping
    # backslash and the run died on its own transcript.
    (tmp_path / "notes.txt").write_text('deploy with PASSWORD=\\"s3cr3t-pw\\" or a"b\\c\u2028 \\')
    model_server.script(tool_call("read_file", {"path": "notes.txt"}, call_id="c1"), reply(GOOD))
    path = tmp_path / "transcript.jsonl"
    agent = make_agent(model_server, tmp_path, transcript=Transcript(path, secrets=['a"b\\c']))
    assert run(agent).result.items == 2
    agent.transcript.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == ["start", "completion", "tool", "completion", "result"]
    assert 'PASSWORD=\\"***\\"' in events[2]["result"]
    text = path.read_text(encoding="utf-8")
    assert "s3cr3t-pw" not in text and 'a\\"b' not in text and 'a\\\\\\"b' not in text


def test_lone_surrogates_in_the_prompt_and_a_reply_do_not_break_the_next_request(model_server, tmp_path):
    # JSON's "\ud800" decodes to a lone surrogate, which cannot be sent as UTF-8: the request
    # failed to encode and the run ended in a retried (and paid again) "malformed response".
    from agentjobs.agent.replay import ReplayCache

    model_server.script(reply("I saw \ud800 in the feed, no result line"), reply(GOOD))
    agent = make_agent(model_server, tmp_path, replay=ReplayCache())
    result = agent.run(system="sys", prompt="feed item: bad \udc80 byte", result_model=Answer)
    assert result.result.items == 2 and model_server.calls == 2
    first, second = (r.body["messages"] for r in model_server.requests)
    assert first[1]["content"] == "feed item: bad \ufffd byte"
    assert second[2] == {"role": "assistant", "content": "I saw \ufffd in the feed, no result line"}


def test_a_lone_surrogate_in_a_later_tool_result_is_replaced_before_it_is_sent(model_server, tmp_path):
    # Each message is checked once, when it first goes out: a bad one appended turns after the
    # start must still reach the server as U+FFFD (the request would not encode otherwise).
    from agentjobs.agent.tools import tool_from_function

    def feed(n: int) -> str:
        """Feed item n."""
        return f"item {n}" if n < 2 else f"item {n}: bad \udc80 byte"

    model_server.script(
        tool_call("feed", {"n": 1}, call_id="c1"),
        tool_call("feed", {"n": 2}, call_id="c2"),
        reply("no result line, \ud800"),
        reply(GOOD),
    )
    agent = make_agent(model_server, tmp_path)
    agent.tools.register(tool_from_function(feed))
    assert run(agent).result.items == 2 and model_server.calls == 4
    sent = [r.body["messages"] for r in model_server.requests]
    assert sent[1][-1]["content"] == "item 1"
    assert sent[2][-1] == {"role": "tool", "tool_call_id": "c2", "content": "item 2: bad \ufffd byte"}
    assert sent[3][-2] == {"role": "assistant", "content": "no result line, \ufffd"}
    # What went out earlier is sent again unchanged, the cleaned message included.
    assert sent[3][: len(sent[2])] == sent[2]


def test_a_tool_call_turn_goes_back_with_its_text_if_it_had_any_and_no_empty_content(model_server, tmp_path):
    (tmp_path / "notes.txt").write_text("two")
    model_server.script(
        tool_call("read_file", {"path": "notes.txt"}, call_id="c1"),
        tool_call("read_file", {"path": "notes.txt"}, call_id="c2", content="Reading it again."),
        reply(GOOD),
    )
    assert run(make_agent(model_server, tmp_path)).result.items == 2
    history = model_server.requests[2].body["messages"]
    call = {"type": "function", "function": {"name": "read_file", "arguments": '{"path": "notes.txt"}'}}
    assert history[2] == {"role": "assistant", "tool_calls": [{"id": "c1", **call}]}
    assert history[4] == {
        "role": "assistant",
        "content": "Reading it again.",
        "tool_calls": [{"id": "c2", **call}],
    }


def test_each_reply_reaches_the_transcript_and_the_replay_cache_scrubbed_and_valid_unicode(
    model_server, tmp_path
):
    # The reply is encoded once a call and that text serves the surrogate check, the transcript
    # line and the store's save: a lone surrogate must still become U+FFFD in all three, and a
    # key the reply echoes must still be masked in the transcript.
    from agentjobs.agent.replay import ReplayCache

    model_server.script(reply("echoing sk-test-0000 and \ud800, no result line"), reply(GOOD))
    path = tmp_path / "transcript.jsonl"
    cache = ReplayCache()
    agent = make_agent(
        model_server, tmp_path, transcript=Transcript(path, secrets=["sk-test-0000"]), replay=cache
    )
    assert run(agent).result.items == 2
    agent.transcript.close()
    completions = [
        e
        for e in map(json.loads, path.read_text(encoding="utf-8").splitlines())
        if e["event"] == "completion"
    ]
    contents = [e["response"]["choices"][0]["message"]["content"] for e in completions]
    assert contents == ["echoing *** and \ufffd, no result line", GOOD]
    assert [e["max_tokens"] for e in completions] == [4096, 4096]
    # What the task state store gets for a retry: the reply as the run went on with it, unscrubbed.
    saved = [json.loads(cache.texts[key]) for key in cache.entries]
    assert saved == list(cache.entries.values())
    assert saved[0]["choices"][0]["message"]["content"] == "echoing sk-test-0000 and \ufffd, no result line"

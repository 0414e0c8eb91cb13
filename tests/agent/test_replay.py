"""Replay fingerprints: the running hash of a growing history, and answers saved under the
whole-request fingerprint of earlier versions."""

from __future__ import annotations

from agentjobs.agent.replay import ReplayCache, RunningFingerprint, fingerprint
from tests.agent.test_loop import GOOD, make_agent, run
from tests.fakes.model_server import reply, tool_call

FIELDS = {"model": "m", "messages": [], "tools": [{"type": "function"}], "response_format": None}
HISTORY = [
    {"role": "system", "content": "sys"},
    {"role": "user", "content": "go"},
    {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "ab"},
]


def test_the_running_fingerprint_is_the_same_however_the_history_was_hashed() -> None:
    step_by_step = RunningFingerprint(FIELDS)
    keys = [step_by_step.of(HISTORY[:n]) for n in range(2, len(HISTORY) + 1)]
    assert keys[-1] == RunningFingerprint(FIELDS).of(HISTORY)  # one message at a time or all at once
    assert len(set(keys)) == len(keys)  # every call of the conversation its own key


def test_any_difference_in_the_request_changes_the_fingerprint() -> None:
    key = RunningFingerprint(FIELDS).of(HISTORY)
    changed_tool = [*HISTORY[:-1], {"role": "tool", "tool_call_id": "c1", "content": "abc"}]
    assert RunningFingerprint(FIELDS).of(changed_tool) != key
    assert RunningFingerprint({**FIELDS, "model": "other"}).of(HISTORY) != key
    assert RunningFingerprint({**FIELDS, "tools": None}).of(HISTORY) != key
    # A message more or less is another request, even when the rest is the same.
    assert RunningFingerprint(FIELDS).of([*HISTORY, HISTORY[-1]]) != key


def test_answers_saved_under_whole_request_fingerprints_are_replayed(model_server, tmp_path) -> None:
    # A try saved by an earlier version keyed its answers by the whole request: its retry
    # replays them rather than paying again.
    model_server.script(tool_call("list_files", {}, call_id="c1"), reply(GOOD))
    first = ReplayCache()
    run(make_agent(model_server, tmp_path, replay=first))
    assert model_server.calls == 2 and len(first.entries) == 2 and not first.legacy
    client = make_agent(model_server, tmp_path).client
    legacy = ReplayCache(
        {
            fingerprint(client.request_fingerprint_fields(r.body["messages"], r.body["tools"], None)): raw
            for r, raw in zip(model_server.requests, first.entries.values(), strict=True)
        }
    )
    assert legacy.legacy
    again = make_agent(model_server, tmp_path, replay=legacy)
    assert run(again).result.items == 2
    assert model_server.calls == 2 and legacy.replayed == 2  # nothing asked again
    assert again.meter.usage.iterations == 0  # and nothing counted again

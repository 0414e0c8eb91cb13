"""The prompt counted before it is sent (for max_context_tokens): four UTF-8 bytes a token, plus
each message's wrapping, and everything else a provider bills as prompt."""

from __future__ import annotations

from agentjobs.agent.prompt_size import message_tokens, prompt_tokens, text_tokens


def test_the_prompt_is_counted_from_everything_a_request_bills_as_prompt():
    assert text_tokens("abcd") == 1 and text_tokens("abcde") == 2 and text_tokens("é" * 4) == 2
    plain = prompt_tokens([{"role": "user", "content": "x" * 400}])
    assert plain == 3 + 3 + 100  # priming, the message's wrapping, its text
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"function": {"name": "read_file", "arguments": "{}"}}],
    }
    assert prompt_tokens([call]) > prompt_tokens([{"role": "assistant", "content": None}])
    tools = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}]
    assert prompt_tokens([], tools) > prompt_tokens([])
    assert prompt_tokens([], None, {"type": "json_schema"}) > prompt_tokens([])


def test_a_message_in_content_parts_counts_as_the_text_of_its_parts():
    parts = {
        "role": "user",
        "content": [{"type": "text", "text": "x" * 20}, {"type": "text", "text": "x" * 20}],
    }
    assert message_tokens(parts) == message_tokens({"role": "user", "content": "x" * 40}) == 3 + 10


def test_a_lone_surrogate_in_the_text_is_counted_rather_than_failing_the_run():
    # JSON's "\\ud800" decodes to one; UTF-8 cannot encode it, the count must not raise.
    assert text_tokens("ab\ud800") == 2  # 2 bytes and the surrogate's 3
    assert message_tokens({"role": "tool", "content": "\udfff" * 4}) == 3 + 3


def test_a_tool_call_counts_its_name_and_arguments_once_each():
    call = {"function": {"name": "read_file", "arguments": '{"path": "notes.md"}'}}
    two = {"role": "assistant", "content": "", "tool_calls": [call, call]}
    assert message_tokens(two) == 3 + 2 * (text_tokens("read_file") + text_tokens('{"path": "notes.md"}'))

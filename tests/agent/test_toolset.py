"""A DAG author's tool list: functions become tools, toolsets stay toolsets, anything else is named."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agentjobs.agent.tools import Tool, tool_from_function
from agentjobs.agent.toolset import Toolset, split_tools


def word_count(text: str) -> str:
    """Count the words of a text."""
    return str(len(text.split()))


class Pair:
    def tools(self) -> Sequence[Tool]:
        return [tool_from_function(word_count, name="count")]

    def close(self) -> None:
        pass


def test_functions_become_tools_and_toolsets_are_kept_in_order():
    ready = tool_from_function(word_count, name="ready")
    pair = Pair()
    tools, toolsets = split_tools([word_count, ready, pair])
    assert [tool.name for tool in tools] == ["word_count", "ready"]
    assert tools[0].description == "Count the words of a text."
    assert toolsets == [pair]
    assert isinstance(pair, Toolset)


def test_something_that_is_no_tool_is_named():
    with pytest.raises(TypeError, match="not int"):
        split_tools([42])  # type: ignore[list-item]

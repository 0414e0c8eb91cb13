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


class Recording:
    """A toolset that records its life, and fails to open or to close when told to."""

    def __init__(
        self, name: str, log: list[str], *, fail_open: bool = False, fail_close: bool = False
    ) -> None:
        self.name, self.log, self.fail_open, self.fail_close = name, log, fail_open, fail_close

    def tools(self) -> Sequence[Tool]:
        self.log.append(f"open {self.name}")
        if self.fail_open:
            raise ConnectionError(f"{self.name} is down")
        return [tool_from_function(word_count, name=self.name)]

    def close(self) -> None:
        self.log.append(f"close {self.name}")
        if self.fail_close:
            raise RuntimeError(f"{self.name} would not close")


def test_every_toolset_reached_is_closed_also_the_one_that_failed_to_open():
    from contextlib import ExitStack

    from agentjobs.agent.toolset import open_toolsets

    log: list[str] = []
    with pytest.raises(ConnectionError, match="b is down"), ExitStack() as stack:
        open_toolsets(stack, [Recording("a", log), Recording("b", log, fail_open=True), Recording("c", log)])
    # c was never opened, so never closed; b may be half open, so it is closed too.
    assert log == ["open a", "open b", "close b", "close a"]


def test_a_toolset_that_fails_to_close_is_logged_and_the_others_still_close(caplog):
    from contextlib import ExitStack

    from agentjobs.agent.toolset import open_toolsets

    log: list[str] = []
    with ExitStack() as stack:
        opened = open_toolsets(stack, [Recording("a", log), Recording("b", log, fail_close=True)])
        assert [tools[0].name for _, tools in opened] == ["a", "b"]
    assert log == ["open a", "open b", "close b", "close a"]
    assert "closing the toolset Recording failed" in caplog.text and "b would not close" in caplog.text

"""What a DAG author hands an agent as tools: plain typed callables, `Tool`s, or toolsets.

A toolset is a group of tools that share a resource (a database connection, an MCP server
session): it is opened when the run starts and closed when it ends, whatever happened, so a
failed run never leaves a server process or a connection behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from typing import Protocol, runtime_checkable

from agentjobs.agent.tools import Tool, tool_from_function

log = logging.getLogger(__name__)


@runtime_checkable
class Toolset(Protocol):
    """Tools that live and die together. `tools()` may open the resource; `close()` must be safe
    to call whether or not `tools()` was called or succeeded."""

    def tools(self) -> Sequence[Tool]: ...

    def close(self) -> None: ...


ToolLike = Callable[..., str] | Tool | Toolset


def split_tools(items: Iterable[ToolLike]) -> tuple[list[Tool], list[Toolset]]:
    """The single tools (callables turned into `Tool`s) and the toolsets, in the order given."""
    tools: list[Tool] = []
    toolsets: list[Toolset] = []
    for item in items:
        if isinstance(item, Tool):
            tools.append(item)
        elif isinstance(item, Toolset):
            toolsets.append(item)
        elif callable(item):
            tools.append(tool_from_function(item))
        else:
            raise TypeError(
                f"a tool must be a typed function, an agentjobs Tool or a Toolset, not {type(item).__name__}"
            )
    return tools, toolsets


def open_toolsets(stack: ExitStack, toolsets: Iterable[Toolset]) -> list[tuple[Toolset, list[Tool]]]:
    """Each toolset's tools, opened in order; `stack` closes every toolset it reached when it
    exits, the one whose `tools()` failed included (its resource may be half open)."""
    opened: list[tuple[Toolset, list[Tool]]] = []
    for toolset in toolsets:
        stack.callback(_close, toolset)  # before tools(): a failed open is closed too
        opened.append((toolset, list(toolset.tools())))
    return opened


def _close(toolset: Toolset) -> None:
    # A toolset that fails to close must neither hide why the run failed nor fail a run that
    # succeeded (its answer is valid): the task log says so instead.
    try:
        toolset.close()
    except Exception:
        log.exception("closing the toolset %s failed", toolset_label(toolset))


def toolset_label(toolset: Toolset) -> str:
    """How a message names a toolset: its class, e.g. `SQLToolset`."""
    return type(toolset).__name__

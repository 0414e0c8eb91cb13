"""Toolsets a DAG author hands an agent: groups of tools sharing one resource, opened at run start.

- `SQLToolset(conn_id, ...)`: read-only SQL on a common-sql connection (sql_toolset.py).
- `MCPToolset(command=[...])` / `MCPToolset(url=...)`: an MCP server's tools, read-only unless
  allowlisted (mcp_toolset.py; needs the `mcp` extra).

Both meet the agent at `agentjobs.agent.toolset.Toolset`. They are loaded when first named, so a
DAG file that imports this package pays neither sqlglot nor the MCP SDK at parse time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentjobs.lazy_names import forwarded

if TYPE_CHECKING:
    from agentjobs.toolsets.mcp_toolset import MCPToolset, MCPToolsetError
    from agentjobs.toolsets.sql_toolset import SQLToolset, SQLToolsetError

__all__ = ["MCPToolset", "MCPToolsetError", "SQLToolset", "SQLToolsetError"]

_sql = forwarded(__name__, "agentjobs.toolsets.sql_toolset", frozenset({"SQLToolset", "SQLToolsetError"}))
_mcp = forwarded(__name__, "agentjobs.toolsets.mcp_toolset", frozenset({"MCPToolset", "MCPToolsetError"}))


def __getattr__(name: str) -> object:
    return _mcp(name) if name.startswith("MCP") else _sql(name)

"""An MCP server's tools for the agent, over stdio or streamable HTTP, read-only unless allowlisted.

`MCPToolset(command=[...])` starts the server as a child process and speaks MCP over its
stdin/stdout; `MCPToolset(url=...)` connects to a running server's streamable HTTP endpoint.
`tools()` opens the session and lists the server's tools; each one becomes an agentjobs `Tool`
whose arguments model is the tool's own input schema (mcp_schema.py).

Least privilege (DESIGN.md principle 6): only the tools whose annotations say
`readOnlyHint: true`, plus the names in `allow=`, are offered; the others are left out and the
log names them. The hint is the server's word, so a server is trusted as far as its hints are:
allowlist by name when in doubt, and give the server credentials that can only read.

The SDK is async and the agent loop is not: the session lives on a private event loop thread
(loop_thread.py), held open by one task from `tools()` to `close()` (the SDK's transports must
be entered and left by the same task). A call waits for its answer or for the session to end,
so a server that dies mid-call is a readable error for the model, not a hang. `close()` ends the
session and, over stdio, the server process (the SDK closes its stdin, then terminates its tree).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import logging
import os
import re
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import IO, Any
from urllib.parse import urlsplit

from agentjobs.agent.tools import Tool
from agentjobs.jobs.prompt_data import as_data
from agentjobs.toolsets.data_block import cut, data_block
from agentjobs.toolsets.loop_thread import LoopThread
from agentjobs.toolsets.mcp_content import result_lines
from agentjobs.toolsets.mcp_schema import args_model

log = logging.getLogger(__name__)

DEFAULT_CALL_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 30.0
DEFAULT_MAX_CHARS = 16_000  # under the registry's 20,000, so the closing </data> survives
_MAX_DESCRIPTION = 1_000
_STDERR_TAIL = 4_000
_SERVER_STOP_S = 10.0  # the SDK's stdio shutdown: 2 s grace, SIGTERM, 2 s, SIGKILL, 2 s to reap
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_-]")


class MCPToolsetError(Exception):
    """The MCP server could not be reached, refused a call, or went away; the message says which."""


class MCPToolset:
    """The tools of one MCP server: `command` (argv of a stdio server) or `url` (streamable HTTP).

    `allow`: names of tools offered although not annotated read-only (the server's names).
    `prefix`: put before each tool's name, to offer two servers in one run. `env`, `cwd`: for
    the stdio server's process. `headers`: sent with every HTTP request (an Authorization header;
    never logged). `call_timeout_s`: how long one call may take; `connect_timeout_s`: how long
    starting the session and listing the tools may take. `max_chars`: what one result may show.
    """

    def __init__(
        self,
        command: Sequence[str] | None = None,
        *,
        url: str | None = None,
        allow: Sequence[str] = (),
        prefix: str = "",
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        headers: Mapping[str, str] | None = None,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        if (command is None) == (url is None):
            raise ValueError("MCPToolset takes either command=[...] (a stdio server) or url=... (HTTP)")
        if isinstance(command, str) or (command is not None and not command):
            raise TypeError(
                "MCPToolset command= is the server's argv as a list, e.g. ['python', 'server.py']"
            )
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(
                f"MCPToolset url= must be an http(s) URL of a streamable HTTP endpoint, not {url!r}"
            )
        if isinstance(allow, str):
            raise TypeError("MCPToolset allow= takes a list of tool names, not one string")
        if call_timeout_s <= 0 or connect_timeout_s <= 0 or max_chars < 200:
            raise ValueError(
                "MCPToolset needs call_timeout_s > 0, connect_timeout_s > 0 and max_chars >= 200"
            )
        self.command = None if command is None else list(command)
        self.url = url
        self.allow = tuple(allow)
        self.prefix = prefix
        self.env = None if env is None else dict(env)
        self.cwd = cwd
        self._headers = None if headers is None else dict(headers)
        self.call_timeout_s = call_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.max_chars = max_chars
        self._loop: LoopThread | None = None
        self._session: _Session | None = None
        self._tools: list[Tool] | None = None
        self._stderr: IO[str] | None = None

    @property
    def label(self) -> str:
        """The server as a person would name it; a URL's credentials and query are left out."""
        if self.command is not None:
            # The program and its first argument: later ones may hold a token (put those in env=).
            program = [os.path.basename(self.command[0]), *self.command[1:2]]
            return f"MCP server {cut(' '.join(program), 120)!r} (stdio)"
        parts = urlsplit(self.url or "")
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
        return f"MCP server at {parts.scheme}://{host}{port}{parts.path}"

    def __repr__(self) -> str:
        return f"MCPToolset({self.label})"

    # ------------------------------------------------------------------ the Toolset protocol

    def tools(self) -> Sequence[Tool]:
        """Open the session, list the server's tools and turn the offered ones into Tools."""
        if self._tools is not None:
            return list(self._tools)
        listing = self._open()
        try:
            offered, left_out = self._select(listing)
            self._tools = self._as_tools(offered)
        except BaseException:
            self.close()  # a run that cannot start leaves no server behind
            raise
        if left_out:
            log.info(
                "%s: %d tool(s) left out, neither annotated readOnlyHint nor in allow=: %s",
                self.label,
                len(left_out),
                ", ".join(left_out),
            )
        log.info("%s: offering %s", self.label, ", ".join(t.name for t in self._tools) or "no tools")
        return list(self._tools)

    def close(self) -> None:
        """End the session and the server process; safe to call twice or before tools()."""
        loop, session = self._loop, self._session
        self._loop = self._session = None
        self._tools = None
        if loop is None:
            return
        try:
            if session is not None:
                session.end(loop, self.connect_timeout_s)
        finally:
            loop.stop()
            self._log_stderr()

    def __enter__(self) -> MCPToolset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ opening

    def _open(self) -> list[Any]:
        if importlib.util.find_spec("mcp") is None:
            raise MCPToolsetError(
                "MCPToolset needs the MCP SDK: pip install 'airflow-provider-agentjobs[mcp]'"
            )
        self._loop = LoopThread(name=f"mcp-{self.prefix or 'toolset'}")
        self._session = _Session(self.label, self._transport)
        try:
            return self._session.start(self._loop, self.connect_timeout_s)
        except BaseException:
            self.close()
            raise

    def _transport(self) -> Any:
        """The SDK's transport for this server; called on the loop, inside the session's task."""
        if self.command is not None:
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            params = StdioServerParameters(
                command=self.command[0], args=self.command[1:], env=self.env, cwd=self.cwd
            )
            # A file of our own, not sys.stderr: a task's stderr may be a logging stream with no
            # file descriptor for the child, and the tail is logged when the server is gone.
            self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
            return stdio_client(params, errlog=self._stderr)
        return _http_transport(str(self.url), self._headers)

    def _log_stderr(self) -> None:
        """The tail of a stdio server's stderr, into the task log (never to the model)."""
        errlog, self._stderr = self._stderr, None
        if errlog is None:
            return
        try:
            errlog.seek(0)
            tail = errlog.read()[-_STDERR_TAIL:].strip()
        finally:
            errlog.close()
        if tail:
            log.info("%s wrote to stderr (the last %d characters):\n%s", self.label, _STDERR_TAIL, tail)

    def _select(self, listing: list[Any]) -> tuple[list[Any], list[str]]:
        names = {tool.name for tool in listing}
        unknown = [name for name in self.allow if name not in names]
        if unknown:
            raise MCPToolsetError(
                f"{self.label}: allow= names tools it does not have: {unknown}; it has: {sorted(names)}"
            )
        offered, left_out = [], []
        for tool in listing:
            read_only = tool.annotations is not None and tool.annotations.read_only_hint is True
            (offered if read_only or tool.name in self.allow else left_out).append(tool)
        return offered, [tool.name for tool in left_out]

    def _as_tools(self, offered: list[Any]) -> list[Tool]:
        tools: list[Tool] = []
        seen: dict[str, str] = {}
        for remote in offered:
            name = (self.prefix + _NOT_A_NAME.sub("_", remote.name))[:64]
            if name in seen:
                raise MCPToolsetError(
                    f"{self.label}: tools {seen[name]!r} and {remote.name!r} both become {name!r}; "
                    "offer only one of them (allow=) or connect them through two toolsets with prefixes"
                )
            seen[name] = remote.name
            # The description is the server's text: one line, no tags, bounded.
            text = as_data(cut(remote.description or f"Call {remote.name}.", _MAX_DESCRIPTION))
            tools.append(
                Tool(name, text, _Caller(self, remote.name), args_model(remote.name, remote.input_schema))
            )
        return tools

    # ------------------------------------------------------------------ calling

    def call(self, tool: str, arguments: dict[str, Any]) -> str:
        """Call the server's tool `tool` and return what the model is shown."""
        loop, session = self._loop, self._session
        if loop is None or session is None:
            raise MCPToolsetError(f"{self.label} is closed; the toolset's session ended before this call")
        result = session.call(loop, tool, arguments, self.call_timeout_s)
        lines = result_lines(result)
        if result.is_error:
            detail = as_data(cut(" ".join(lines), 2_000)) or "(no detail)"
            raise MCPToolsetError(f"{self.label}: {tool} reported an error: {detail}")
        return data_block(lines, max_chars=self.max_chars, more="ask for less (narrower arguments)")


class _Caller:
    """`Tool.func` for one MCP tool: its arguments as keywords, sent as the server's JSON object."""

    def __init__(self, toolset: MCPToolset, tool: str) -> None:
        self.toolset = toolset
        self.tool = tool

    def __call__(self, **arguments: Any) -> str:
        return self.toolset.call(self.tool, arguments)


class _Session:
    """One MCP client session, held open by one task on the loop from `start` until `end`."""

    def __init__(self, label: str, transport: Any) -> None:
        self.label = label
        self._transport = transport
        self._client: Any = None
        self._holder: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._scope: Any = None  # the anyio cancel scope around the whole session
        self._held: concurrent.futures.Future[None] | None = None
        self.gone: str | None = None  # why the session ended, once it has

    def start(self, loop: LoopThread, timeout_s: float) -> list[Any]:
        listed: concurrent.futures.Future[list[Any]] = concurrent.futures.Future()
        self._held = loop.submit(self._hold(listed))
        try:
            return listed.result(timeout_s)
        except concurrent.futures.TimeoutError:
            raise MCPToolsetError(
                f"{self.label} did not start a session and list its tools within {timeout_s:g} s"
            ) from None
        except MCPToolsetError:
            raise
        except Exception as exc:
            raise MCPToolsetError(f"{self.label} could not be reached: {_reason(exc)}") from None

    async def _hold(self, listed: concurrent.futures.Future[list[Any]]) -> None:
        import anyio
        from mcp import Client

        self._holder = asyncio.current_task()
        self._stop = asyncio.Event()
        self._scope = anyio.CancelScope()
        try:
            with self._scope:
                async with Client(self._transport()) as client:
                    tools = await _all_tools(client)
                    self._client = client
                    listed.set_result(tools)
                    await self._stop.wait()
        except BaseException as exc:
            self.gone = _reason(exc)
            if not listed.done():
                listed.set_exception(exc if isinstance(exc, Exception) else MCPToolsetError(self.gone))
            if not isinstance(exc, Exception):
                raise  # cancellation: the loop is stopping
        else:
            self.gone = "the toolset was closed"
            if not listed.done():
                listed.set_exception(MCPToolsetError(f"{self.label}: connecting was abandoned"))

    def call(self, loop: LoopThread, tool: str, arguments: dict[str, Any], timeout_s: float) -> Any:
        if self.gone is not None or self._client is None:
            raise MCPToolsetError(f"{self.label} is gone: {self.gone or 'no session'}; {tool} was not called")
        try:
            # The loop's own wait is the call's timeout; this one only guards a stuck loop.
            return loop.run(self._call(tool, arguments, timeout_s), timeout_s + 10)
        except TimeoutError:
            raise MCPToolsetError(f"{self.label} gave no answer to {tool} within {timeout_s:g} s") from None
        except MCPToolsetError:
            raise
        except Exception as exc:
            if _connection_closed(exc):
                self.gone = "its connection closed (did the server process exit?)"
                raise MCPToolsetError(
                    f"{self.label} went away during the call to {tool}: {self.gone}"
                ) from None
            raise MCPToolsetError(f"{self.label}: the call to {tool} failed: {_reason(exc)}") from None

    async def _call(self, tool: str, arguments: dict[str, Any], timeout_s: float) -> Any:
        assert self._holder is not None
        call = asyncio.ensure_future(self._client.call_tool(tool, arguments, read_timeout_seconds=timeout_s))
        done, _ = await asyncio.wait({call, self._holder}, timeout=timeout_s, return_when="FIRST_COMPLETED")
        if call in done:
            return call.result()
        call.cancel()
        if self._holder in done:
            raise MCPToolsetError(f"{self.label} ended during the call to {tool}: {self.gone}")
        raise TimeoutError

    def end(self, loop: LoopThread, timeout_s: float) -> None:
        """Leave the session (the SDK stops a stdio server), waiting up to `timeout_s`."""
        if self._held is None or self._held.done():
            return
        if self._scope is None:
            self._held.cancel()  # not started yet: nothing runs that could leave a server behind
        elif self._client is None:
            # Still connecting: anyio's own cancel, not the task's. A native task.cancel() can
            # break through the SDK's shielded shutdown and leave the server process running.
            loop.loop.call_soon_threadsafe(self._scope.cancel)
        else:
            loop.loop.call_soon_threadsafe(self._stop.set)
        try:
            # The SDK closes a stdio server's stdin, waits 2 s, then SIGTERMs its process group
            # and SIGKILLs 2 s later: the loop must not stop before that has run.
            self._held.result(max(timeout_s, _SERVER_STOP_S))
        except concurrent.futures.CancelledError:
            pass  # the SDK's own shutdown still runs (shielded) while the loop stops
        except Exception as exc:  # closing: the reason is logged, not raised
            log.warning("%s did not close cleanly: %s", self.label, _reason(exc))


@asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str] | None) -> AsyncIterator[Any]:
    """The streamable HTTP transport with an HTTP client of its own, closed with it (the SDK
    leaves a client it was given open)."""
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            yield streams


async def _all_tools(client: Any) -> list[Any]:
    """Every tool the server lists, page by page (a server that pages forever is cut at 100)."""
    tools: list[Any] = []
    cursor = None
    for _ in range(100):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _connection_closed(exc: Exception) -> bool:
    from mcp import MCPError
    from mcp.types import CONNECTION_CLOSED

    return isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED


def _reason(exc: BaseException) -> str:
    """The first real error inside `exc` (anyio wraps a task's failure in exception groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, asyncio.CancelledError):
        return "the session was cancelled"
    text = " ".join(str(exc).split()) or "no detail"
    return f"{type(exc).__name__}: {cut(text, 500)}"

"""Tools the model may call: a registry that never lets a tool failure escape, and the built-ins.

A tool is a typed Python function. Its signature becomes a pydantic model, which both
validates the model's arguments and provides the JSON schema sent to the endpoint.
`ToolRegistry.call` turns every failure into an "ERROR: ..." result the model can read and
correct, so one bad call costs a turn instead of the whole task.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import re
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import partial
from pathlib import Path
from typing import Any

import pydantic

from agentjobs.agent.errors import PermissionDenied, ToolRegistrationError
from agentjobs.agent.permissions import PermissionEngine
from agentjobs.atomic_file import write_atomically

log = logging.getLogger(__name__)
READ_MAX_BYTES = 200_000
LIST_MAX_FILES = 1_000
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what OpenAI-style endpoints accept


@dataclass(frozen=True)
class Tool:
    """One callable tool. `func` is called with the validated fields of `args_model` as keywords."""

    name: str
    description: str
    func: Callable[..., str]
    args_model: type[pydantic.BaseModel]
    needs_confirmation: bool = False

    def spec(self) -> dict[str, Any]:
        """The tool as an OpenAI chat-completions function definition."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                # A fresh copy each time: the spec goes to the SDK, and callers may edit it.
                "parameters": json.loads(_parameters_json(self.args_model)),
            },
        }


# pydantic builds a model's JSON schema anew each time it is asked (a millisecond for a small
# model), and every run asks again for each of its tools; a class's schema never changes.
# Bounded, as tools may be made per run and a cached class is kept alive.
@functools.lru_cache(maxsize=256)
def _parameters_json(args_model: type[pydantic.BaseModel]) -> str:
    return json.dumps(args_model.model_json_schema())


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n", 1)[0].split())


def tool_from_function(
    func: Callable[..., str],
    *,
    name: str | None = None,
    description: str | None = None,
    needs_confirmation: bool = False,
) -> Tool:
    """Build a Tool from a typed function, or from a function taking a single BaseModel argument.

    Use `Annotated[str, pydantic.Field(description=...)]` to describe a parameter to the model.
    """
    tool_name = name or func.__name__
    text = description if description is not None else _first_paragraph(func.__doc__)
    params = list(inspect.signature(func).parameters.values())
    try:
        # include_extras keeps Annotated[..., Field(...)] so parameter descriptions reach the schema.
        hints = typing.get_type_hints(func, include_extras=True)
    except NameError as exc:
        raise TypeError(f"tool {tool_name!r}: cannot resolve a type annotation ({exc})") from exc

    if len(params) == 1 and isinstance(hints.get(params[0].name), type):
        hinted = hints[params[0].name]
        if issubclass(hinted, pydantic.BaseModel):
            model: type[pydantic.BaseModel] = hinted
            call = partial(_call_with_model, func, model)
            return Tool(tool_name, text or f"Call {tool_name}.", call, model, needs_confirmation)

    fields: dict[str, Any] = {}
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            # Arguments arrive as a JSON object, so every parameter must be passable by keyword.
            raise TypeError(f"tool {tool_name!r}: parameter {param.name!r} must be a plain keyword parameter")
        if param.name not in hints:
            raise TypeError(f"tool {tool_name!r}: parameter {param.name!r} has no type annotation")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], default)
    model_name = "".join(part.capitalize() for part in tool_name.replace("-", "_").split("_")) + "Args"
    # extra="forbid": a misspelt argument name is reported to the model instead of silently dropped.
    model = pydantic.create_model(model_name, __config__=pydantic.ConfigDict(extra="forbid"), **fields)
    return Tool(tool_name, text or f"Call {tool_name}.", func, model, needs_confirmation)


def _call_with_model(func: Callable[[Any], str], model: type[pydantic.BaseModel], /, **fields: Any) -> str:
    # Positional-only so a field named 'func' or 'model' cannot collide with these parameters.
    return func(model.model_validate(fields))


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call produced; `content` is what the model sees next."""

    ok: bool
    content: str


def _validation_summary(exc: pydantic.ValidationError) -> str:
    parts: list[str] = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "(arguments)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class ToolRegistry:
    """The tools of one run. `unattended=True` (the default) is for scheduled runs with no human."""

    def __init__(self, *, unattended: bool = True, max_result_chars: int = 20_000) -> None:
        self.unattended = unattended
        self.max_result_chars = max_result_chars
        self._tools: dict[str, Tool] = {}

    def register(self, tool: Tool) -> None:
        if not _TOOL_NAME.fullmatch(tool.name):
            raise ToolRegistrationError(
                f"tool name {tool.name!r} is invalid; use 1-64 letters, digits, '_' or '-'"
            )
        if tool.name in self._tools:
            raise ToolRegistrationError(f"tool {tool.name!r} is already registered")
        if tool.needs_confirmation and self.unattended:
            raise ToolRegistrationError(
                f"tool {tool.name!r} needs a human confirmation and cannot run unattended; "
                "make the approval an Airflow task or drop the tool"
            )
        self._tools[tool.name] = tool

    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self._tools.values()]

    def restrict(self, allowed: Sequence[str]) -> ToolRegistry:
        """A new registry holding only the `allowed` tools (in registration order)."""
        unknown = [n for n in allowed if n not in self._tools]
        if unknown:
            raise ToolRegistrationError(f"unknown tools {unknown}; available tools: {self.names()}")
        subset = ToolRegistry(unattended=self.unattended, max_result_chars=self.max_result_chars)
        keep = set(allowed)
        subset._tools = {n: t for n, t in self._tools.items() if n in keep}
        return subset

    def _outcome(self, ok: bool, content: str) -> ToolOutcome:
        if len(content) > self.max_result_chars:
            content = (
                content[: self.max_result_chars] + f"\n[truncated: the result had {len(content)} characters, "
                f"only the first {self.max_result_chars} are shown]"
            )
        return ToolOutcome(ok, content)

    def call(self, name: str, arguments_json: str) -> ToolOutcome:
        """Run one tool call. Never raises for a bad call or a failing tool: returns ok=False."""
        tool = self._tools.get(name)
        if tool is None:
            available = ", ".join(self._tools) or "(none)"
            return self._outcome(False, f"ERROR: unknown tool {name!r}; available tools: {available}")
        # Models often send "" for a tool without parameters; that means no arguments.
        raw = arguments_json if arguments_json and arguments_json.strip() else "{}"
        try:
            arguments = json.loads(raw)
        except json.JSONDecodeError as exc:
            return self._outcome(
                False, f"ERROR: arguments for {name!r} are not valid JSON ({exc}); send a JSON object"
            )
        if not isinstance(arguments, dict):
            return self._outcome(False, f"ERROR: arguments for {name!r} must be a JSON object")
        try:
            validated = tool.args_model.model_validate(arguments)
        except pydantic.ValidationError as exc:
            return self._outcome(False, f"ERROR: invalid arguments for {name!r}: {_validation_summary(exc)}")
        # Iterating a model yields field values without dumping nested models to dicts.
        kwargs = dict(validated)
        try:
            result = tool.func(**kwargs)
        except PermissionDenied as exc:
            return self._outcome(False, f"ERROR: permission denied: {exc}")
        except Exception as exc:
            return self._outcome(False, f"ERROR: tool {name!r} failed: {type(exc).__name__}: {exc}")
        return self._outcome(True, result if isinstance(result, str) else str(result))


# -------------------------------------------------------------------- built-in tools


def _read_file(engine: PermissionEngine, path: str) -> str:
    real = engine.resolve_read(path)
    if not real.is_file():
        raise FileNotFoundError(f"{path!r} is not a file; call list_files to see what exists")
    # O_NOFOLLOW: the checked path has no symlink left, so refuse one swapped in since the check.
    fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(READ_MAX_BYTES + 1)
        size = os.fstat(fh.fileno()).st_size
    if b"\x00" in data:
        return f"{path!r} looks like a binary file ({size} bytes); not shown"
    text = data[:READ_MAX_BYTES].decode("utf-8", errors="replace")
    if len(data) > READ_MAX_BYTES:
        text += f"\n[truncated: the file has {size} bytes, only the first {READ_MAX_BYTES} are shown]"
    return text


def _list_files(engine: PermissionEngine, path: str = ".", pattern: str = "*") -> str:
    root = engine.resolve_read(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{path!r} is not a directory")
    found: list[str] = []
    # followlinks=False: a directory symlink is never descended, inside the jail or not.
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        for filename in filenames:
            full = Path(dirpath, filename)
            relative = full.relative_to(engine.work_dir).as_posix()
            if full.is_symlink():
                try:
                    target = engine.resolve_read(relative)
                except PermissionDenied:
                    continue  # points out of the jail: not even its name is shown
                if not target.is_file():
                    continue
            below = full.relative_to(root).as_posix()
            if fnmatchcase(filename, pattern) or fnmatchcase(below, pattern):
                found.append(relative)
    if not found:
        return f"(no files matching {pattern!r} under {path!r})"
    found.sort()
    shown = "\n".join(found[:LIST_MAX_FILES])
    if len(found) > LIST_MAX_FILES:
        shown += f"\n[{len(found) - LIST_MAX_FILES} more files not shown; narrow the path or pattern]"
    return shown


def _write_file(engine: PermissionEngine, path: str, content: str) -> str:
    real = engine.resolve_write(path)
    if real.is_dir():
        raise IsADirectoryError(f"{path!r} is a directory")
    real.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8")
    write_atomically(real, data)  # keeps an existing file's mode
    return f"wrote {len(data)} bytes to {real.relative_to(engine.work_dir).as_posix()}"


def _http_get(engine: PermissionEngine, url: str) -> str:
    # Here, not at the top: every DAG parse imports this module through the kinds, and the
    # guarded client (TLS, DNS pinning) costs ~1.5 ms to import.
    from agentjobs.agent.guarded_http import guarded_get

    fetched = guarded_get(
        url,
        check=engine.check_target,
        timeout_s=engine.http_timeout_s,
        deadline_s=engine.http_timeout_s,
        max_bytes=engine.http_max_bytes,
        headers={"User-Agent": "agentjobs-http_get"},
    )
    policy = engine.http_policy
    refused = policy.refusal(fetched) if policy is not None and not 300 <= fetched.status < 400 else None
    if refused is not None:
        log.warning("http_get %s refused: %s", url, refused)
        raise PermissionDenied(f"response of {url!r} refused: {refused}; it was not read")
    if 300 <= fetched.status < 400:
        location = fetched.headers.get("Location", "(none)")
        return (
            f"HTTP {fetched.status}\nredirect not followed; Location: {location}\n"
            "call http_get on that URL if you need it (its host must be allowlisted too)"
        )
    text, charset_note = fetched.text()
    if charset_note is not None:
        text += f"\n[{charset_note}]"
    if fetched.truncated:
        text += f"\n[truncated: only the first {engine.http_max_bytes} bytes of the body are shown]"
    return f"HTTP {fetched.status}\n{text}"


# The built-ins' parameters, as the model sees them: each one's arguments model is built from
# these signatures once per process (pydantic takes about a millisecond a model, and every run
# registers the four anew), while its function and description are the engine's own.
def _read_file_params(path: str) -> str: ...
def _list_files_params(path: str = ".", pattern: str = "*") -> str: ...
def _write_file_params(path: str, content: str) -> str: ...
def _http_get_params(url: str) -> str: ...


_BUILTINS: dict[str, tuple[Callable[..., str], Callable[..., str]]] = {
    # name: (the function taking the engine first, the signature the model calls it with)
    "read_file": (_read_file, _read_file_params),
    "list_files": (_list_files, _list_files_params),
    "write_file": (_write_file, _write_file_params),
    "http_get": (_http_get, _http_get_params),
}


@functools.cache
def _builtin_args_model(name: str) -> type[pydantic.BaseModel]:
    return tool_from_function(_BUILTINS[name][1], name=name).args_model


def _builtin(name: str, engine: PermissionEngine, description: str) -> Tool:
    func = _BUILTINS[name][0]
    return Tool(name, description, partial(func, engine), _builtin_args_model(name))


def builtin_tools(engine: PermissionEngine) -> list[Tool]:
    """read_file, list_files, write_file and http_get, all confined by `engine`."""
    allowlist = list(engine.write_allowlist) or "none: the working directory is read-only"
    hosts: Any = list(engine.http_allowlist) or "none: HTTP is disabled"
    if engine.http_policy is not None:
        policy = engine.http_policy
        hosts = (
            f"{list(engine.http_allowlist) or 'none'}, and URLs below {list(policy.allow_urls)} "
            f"(responses over {policy.max_bytes} bytes or not {' or '.join(policy.content_types)} "
            "are refused)"
        )

    return [
        _builtin(
            "read_file",
            engine,
            "Read a UTF-8 text file. `path` is relative to the working directory "
            f"(at most {READ_MAX_BYTES} bytes are returned).",
        ),
        _builtin(
            "list_files",
            engine,
            "List files under a directory of the working directory, recursively, as paths "
            "relative to the working directory. `pattern` is a glob matched against the file name "
            "or the path below `path`.",
        ),
        _builtin(
            "write_file",
            engine,
            "Create or replace a UTF-8 text file; parent directories are created. `path` is "
            f"relative to the working directory and must match the write allowlist ({allowlist}).",
        ),
        _builtin(
            "http_get",
            engine,
            "HTTP GET an http(s) URL and return the status line and the body text. "
            f"Redirects are not followed. Allowed hosts: {hosts}.",
        ),
    ]

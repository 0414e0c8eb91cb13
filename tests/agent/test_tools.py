"""ToolRegistry, tool_from_function and the built-in tools (HTTP only against loopback servers)."""

from __future__ import annotations

import datetime
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Literal

import pydantic
import pytest

from agentjobs.agent import guarded_http, tools
from agentjobs.agent.errors import PermissionDenied, ToolRegistrationError
from agentjobs.agent.permissions import PermissionEngine
from agentjobs.agent.tools import Tool, ToolOutcome, ToolRegistry, builtin_tools, tool_from_function

# ------------------------------------------------------------------ helpers and fixtures


def registry_for(engine: PermissionEngine, **kwargs: object) -> ToolRegistry:
    registry = ToolRegistry(**kwargs)  # type: ignore[arg-type]
    for tool in builtin_tools(engine):
        registry.register(tool)
    return registry


def call(registry: ToolRegistry, name: str, **arguments: object) -> ToolOutcome:
    return registry.call(name, json.dumps(arguments))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.md").write_text("hello notes")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET")
    return work


@dataclass
class FakeServer:
    port: int
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    release: threading.Event = field(default_factory=threading.Event)  # ends /endless responses


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.fake.requests.append((self.path, self.headers.get("Host", "")))  # type: ignore[attr-defined]
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/hello")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/endless":
            # Announces 10 MB, sends 5000 bytes, then stalls: only a bounded read returns.
            self.send_response(200)
            self.send_header("Content-Length", str(10_000_000))
            self.end_headers()
            self.wfile.write(b"z" * 5000)
            self.wfile.flush()
            self.server.fake.release.wait(10)  # type: ignore[attr-defined]
            return
        if self.path == "/drip":
            # A 40-byte body sent one byte every 0.3 s: each read is quick, the whole takes 12 s.
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "40")
            self.end_headers()
            for _ in range(40):
                if self.server.fake.release.wait(0.3):  # type: ignore[attr-defined]
                    return
                try:
                    self.wfile.write(b"d")
                    self.wfile.flush()
                except OSError:
                    return  # the client hung up, as it should
            return
        status, body, ctype = {
            "/hello": (200, b"hello world", "text/plain; charset=utf-8"),
            "/big": (200, b"x" * 5000, "text/plain"),
            "/latin1": (200, "café".encode("latin-1"), "text/plain; charset=latin-1"),
            # punycode decoding is quadratic: 200 kB of it takes Python tens of seconds.
            "/punycode": (200, b"a" * 200_000, "text/plain; charset=punycode"),
            "/utf16": (200, "naïve".encode("utf-16"), "text/plain; charset=UTF-16"),
        }.get(self.path, (404, b"no such page", "text/plain"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[FakeServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    fake = FakeServer(port=server.server_address[1])
    server.fake = fake  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def http_server() -> Iterator[FakeServer]:
    yield from _serve()


def loopback_engine(work: Path, **kwargs: object) -> tuple[PermissionEngine, list[str]]:
    """An engine whose resolver maps the allowlisted fake names to 127.0.0.1 and records lookups."""
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    kwargs.setdefault("allow_private_addresses", True)
    engine = PermissionEngine(
        work,
        http_allowlist=["fake.test", "secure.test", "wrong.test"],
        resolver=resolve,
        **kwargs,  # type: ignore[arg-type]
    )
    return engine, lookups


# ------------------------------------------------------------- tool_from_function / spec


def search(
    query: str,
    limit: int = 5,
    tags: list[str] | None = None,
    order: Literal["asc", "desc"] = "asc",
    lang: Annotated[str, pydantic.Field(description="ISO language code")] = "en",
) -> str:
    """Search the notes for a phrase.

    This second paragraph is for humans and stays out of the description.
    """
    return f"{query}|{limit}|{tags}|{order}|{lang}"


def test_spec_shape_from_typed_function() -> None:
    spec = tool_from_function(search).spec()
    assert spec["type"] == "function"
    function = spec["function"]
    assert function["name"] == "search"
    assert function["description"] == "Search the notes for a phrase."
    params = function["parameters"]
    assert params["type"] == "object"
    assert set(params["properties"]) == {"query", "limit", "tags", "order", "lang"}
    assert params["required"] == ["query"]
    assert params["properties"]["query"]["type"] == "string"
    assert params["properties"]["limit"] == {"default": 5, "title": "Limit", "type": "integer"}
    assert params["properties"]["order"]["enum"] == ["asc", "desc"]
    assert params["properties"]["lang"]["description"] == "ISO language code"
    assert params["additionalProperties"] is False
    json.dumps(spec)  # must be sendable as is


def test_name_and_description_overrides() -> None:
    tool = tool_from_function(search, name="find", description="Find things.", needs_confirmation=True)
    assert (tool.name, tool.description, tool.needs_confirmation) == ("find", "Find things.", True)
    assert tool.spec()["function"]["name"] == "find"


def test_untyped_parameter_is_a_type_error_naming_it() -> None:
    def half_typed(a, b: int) -> str:  # type: ignore[no-untyped-def]
        return ""

    with pytest.raises(TypeError, match="parameter 'a' has no type annotation"):
        tool_from_function(half_typed)


def test_star_args_rejected() -> None:
    def variadic(*names: str) -> str:
        return ""

    with pytest.raises(TypeError, match="'names' must be a plain keyword parameter"):
        tool_from_function(variadic)


class Point(pydantic.BaseModel):
    x: int
    y: int


def test_single_basemodel_parameter() -> None:
    def norm(point: Point) -> str:
        """Length of a vector."""
        assert isinstance(point, Point)
        return str((point.x**2 + point.y**2) ** 0.5)

    tool = tool_from_function(norm)
    assert tool.args_model is Point
    assert set(tool.spec()["function"]["parameters"]["properties"]) == {"x", "y"}
    registry = ToolRegistry()
    registry.register(tool)
    assert registry.call("norm", '{"x": 3, "y": 4}') == ToolOutcome(True, "5.0")
    assert not registry.call("norm", '{"x": "three", "y": 4}').ok


# ------------------------------------------------------------------------ ToolRegistry


def boom(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"kaput: {reason}")


def forbidden() -> str:
    """Always refused."""
    raise PermissionDenied("nope, not there")


def ping() -> str:
    """No parameters."""
    return "pong"


@pytest.fixture
def registry() -> ToolRegistry:
    registry = ToolRegistry()
    for func in (search, boom, forbidden, ping):
        registry.register(tool_from_function(func))
    return registry


def test_call_success(registry: ToolRegistry) -> None:
    outcome = registry.call("search", '{"query": "cats", "limit": 2, "tags": ["a"]}')
    assert outcome == ToolOutcome(True, "cats|2|['a']|asc|en")
    assert registry.call("ping", "") == ToolOutcome(True, "pong")  # "" means no arguments


def test_unknown_tool_lists_available(registry: ToolRegistry) -> None:
    outcome = registry.call("delete_everything", "{}")
    assert not outcome.ok
    assert outcome.content == (
        "ERROR: unknown tool 'delete_everything'; available tools: search, boom, forbidden, ping"
    )


@pytest.mark.parametrize(
    ("arguments", "expected"), [('{"query": ', "not valid JSON"), ("[1, 2]", "JSON object")]
)
def test_malformed_arguments(registry: ToolRegistry, arguments: str, expected: str) -> None:
    outcome = registry.call("search", arguments)
    assert not outcome.ok
    assert outcome.content.startswith("ERROR: ")
    assert expected in outcome.content


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "query: Field required"),
        ({"query": "q", "limit": "many"}, "limit: Input should be a valid integer"),
        ({"query": "q", "order": "sideways"}, "order: Input should be 'asc' or 'desc'"),
        ({"query": "q", "qeury": "typo"}, "qeury: Extra inputs are not permitted"),
    ],
)
def test_invalid_arguments_summarised(registry: ToolRegistry, arguments: dict, expected: str) -> None:
    outcome = registry.call("search", json.dumps(arguments))
    assert not outcome.ok
    assert outcome.content.startswith("ERROR: invalid arguments for 'search': ")
    assert expected in outcome.content


def test_raising_tool_becomes_error_outcome(registry: ToolRegistry) -> None:
    outcome = registry.call("boom", '{"reason": "disk"}')
    assert outcome == ToolOutcome(False, "ERROR: tool 'boom' failed: ValueError: kaput: disk")


def test_permission_denied_becomes_error_outcome(registry: ToolRegistry) -> None:
    assert registry.call("forbidden", "{}") == ToolOutcome(False, "ERROR: permission denied: nope, not there")


def test_long_results_truncated_with_note() -> None:
    def long(n: int) -> str:
        """Long text."""
        return "a" * n

    registry = ToolRegistry(max_result_chars=50)
    registry.register(tool_from_function(long))
    short = registry.call("long", '{"n": 50}')
    assert short == ToolOutcome(True, "a" * 50)
    outcome = registry.call("long", '{"n": 500}')
    assert outcome.ok
    assert outcome.content.startswith("a" * 50 + "\n[truncated: the result had 500 characters")
    assert "a" * 51 not in outcome.content


def test_needs_confirmation_refused_unattended_allowed_attended() -> None:
    tool = tool_from_function(ping, name="deploy", needs_confirmation=True)
    with pytest.raises(ToolRegistrationError) as info:
        ToolRegistry().register(tool)
    assert str(info.value) == (
        "tool 'deploy' needs a human confirmation and cannot run unattended; "
        "make the approval an Airflow task or drop the tool"
    )
    attended = ToolRegistry(unattended=False)
    attended.register(tool)
    assert attended.names() == ["deploy"]
    assert attended.call("deploy", "{}") == ToolOutcome(True, "pong")


def test_duplicate_and_invalid_names_refused(registry: ToolRegistry) -> None:
    with pytest.raises(ToolRegistrationError, match="'ping' is already registered"):
        registry.register(tool_from_function(ping))
    with pytest.raises(ToolRegistrationError, match="invalid"):
        registry.register(tool_from_function(ping, name="has space"))


def test_restrict(registry: ToolRegistry) -> None:
    narrow = registry.restrict(["ping", "search"])
    assert narrow.names() == ["search", "ping"]
    assert [s["function"]["name"] for s in narrow.specs()] == ["search", "ping"]
    outcome = narrow.call("boom", '{"reason": "x"}')
    assert outcome == ToolOutcome(False, "ERROR: unknown tool 'boom'; available tools: search, ping")
    assert registry.names() == ["search", "boom", "forbidden", "ping"]  # the original is untouched
    with pytest.raises(
        ToolRegistrationError, match=r"unknown tools \['shell'\]; available tools: \['search'"
    ):
        registry.restrict(["ping", "shell"])


def test_restrict_keeps_settings() -> None:
    attended = ToolRegistry(unattended=False, max_result_chars=3)
    attended.register(tool_from_function(ping, needs_confirmation=True))
    narrow = attended.restrict(["ping"])
    assert narrow.unattended is False
    assert narrow.call("ping", "{}").content.startswith("pon\n[truncated")


# ------------------------------------------------------------------------ file built-ins


def test_builtin_tool_specs(work: Path) -> None:
    engine = PermissionEngine(work, write_allowlist=["out/*"])
    specs = {s["function"]["name"]: s["function"] for s in registry_for(engine).specs()}
    assert list(specs) == ["read_file", "list_files", "write_file", "http_get"]
    assert specs["read_file"]["parameters"]["required"] == ["path"]
    assert "required" not in specs["list_files"]["parameters"]
    assert specs["write_file"]["parameters"]["required"] == ["path", "content"]
    assert "['out/*']" in specs["write_file"]["description"]
    assert specs["http_get"]["parameters"]["required"] == ["url"]
    assert all(isinstance(t, Tool) for t in builtin_tools(engine))


def test_builtins_of_two_engines_share_argument_models_but_each_acts_in_its_own_jail(tmp_path: Path) -> None:
    # The arguments models are built once per process; the functions and descriptions must still
    # be each engine's: a cached closure would read (or write) in another run's directory.
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, text in ((first, "first notes"), (second, "second notes")):
        folder.mkdir()
        (folder / "notes.md").write_text(text)
    one = registry_for(PermissionEngine(first, write_allowlist=["a.txt"]))
    two = registry_for(PermissionEngine(second, write_allowlist=["b.txt"]))
    assert call(one, "read_file", path="notes.md").content == "first notes"
    assert call(two, "read_file", path="notes.md").content == "second notes"
    assert call(two, "write_file", path="b.txt", content="2").ok
    assert (second / "b.txt").read_text() == "2" and not (first / "b.txt").exists()
    assert not call(one, "write_file", path="b.txt", content="1").ok
    assert call(one, "list_files").content == "notes.md"
    one_specs, two_specs = ({s["function"]["name"]: s["function"] for s in r.specs()} for r in (one, two))
    assert "['a.txt']" in one_specs["write_file"]["description"]
    assert "['b.txt']" in two_specs["write_file"]["description"]
    assert one_specs["list_files"]["parameters"] == two_specs["list_files"]["parameters"]
    assert call(one, "read_file", path="notes.md", extra=1).content.startswith("ERROR: invalid arguments")


def test_a_spec_is_a_fresh_copy_each_time(work: Path) -> None:
    # Schemas are cached per arguments model; editing one spec must not change the next run's.
    tool = tool_from_function(search)
    tool.spec()["function"]["parameters"]["properties"].clear()
    assert set(tool.spec()["function"]["parameters"]["properties"]) == {
        "query",
        "limit",
        "tags",
        "order",
        "lang",
    }


def test_read_file(work: Path) -> None:
    registry = registry_for(PermissionEngine(work))
    assert call(registry, "read_file", path="notes.md") == ToolOutcome(True, "hello notes")
    missing = call(registry, "read_file", path="nope.md")
    assert not missing.ok
    assert "'nope.md' is not a file" in missing.content


def test_read_file_refuses_traversal_and_symlink_out(work: Path, tmp_path: Path) -> None:
    (work / "leak.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (work / "leakdir").symlink_to(tmp_path / "outside", target_is_directory=True)
    registry = registry_for(PermissionEngine(work))
    for path in [
        "../outside/secret.txt",
        "leak.txt",
        "leakdir/secret.txt",
        str(tmp_path / "outside/secret.txt"),
    ]:
        outcome = call(registry, "read_file", path=path)
        assert not outcome.ok
        assert outcome.content.startswith("ERROR: permission denied: read of ")
        assert "TOP SECRET" not in outcome.content


def test_read_file_caps_size(work: Path) -> None:
    (work / "big.txt").write_text("y" * 250_000)
    outcome = call(registry_for(PermissionEngine(work), max_result_chars=10**6), "read_file", path="big.txt")
    assert outcome.ok
    body, note = outcome.content.split("\n", 1)
    assert body == "y" * tools.READ_MAX_BYTES
    assert note == "[truncated: the file has 250000 bytes, only the first 200000 are shown]"


def test_read_file_binary(work: Path) -> None:
    (work / "img.png").write_bytes(b"\x89PNG\x00\x00\x01")
    outcome = call(registry_for(PermissionEngine(work)), "read_file", path="img.png")
    assert outcome == ToolOutcome(True, "'img.png' looks like a binary file (7 bytes); not shown")


def test_list_files(work: Path, tmp_path: Path) -> None:
    (work / "a").mkdir()
    (work / "a" / "b.txt").write_text("b")
    (work / "a" / "c.md").write_text("c")
    (work / "z.md").write_text("z")
    (work / "alias.md").symlink_to(work / "z.md")
    (work / "leak.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (work / "leakdir").symlink_to(tmp_path / "outside", target_is_directory=True)
    registry = registry_for(PermissionEngine(work))
    assert call(registry, "list_files").content == "a/b.txt\na/c.md\nalias.md\nnotes.md\nz.md"
    assert call(registry, "list_files", pattern="*.md").content == "a/c.md\nalias.md\nnotes.md\nz.md"
    assert call(registry, "list_files", path="a").content == "a/b.txt\na/c.md"
    assert call(registry, "list_files", pattern="*.csv").content == "(no files matching '*.csv' under '.')"
    refused = call(registry, "list_files", path="leakdir")
    assert not refused.ok
    assert "secret" not in refused.content


def test_list_files_caps_count(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "LIST_MAX_FILES", 3)
    for i in range(5):
        (work / f"f{i}.txt").write_text("")
    outcome = call(registry_for(PermissionEngine(work)), "list_files", pattern="*.txt")
    assert outcome.content == "f0.txt\nf1.txt\nf2.txt\n[2 more files not shown; narrow the path or pattern]"


def test_write_file_creates_dirs_atomically(work: Path) -> None:
    registry = registry_for(PermissionEngine(work, write_allowlist=["out/*"]))
    outcome = call(registry, "write_file", path="out/deep/r.md", content="héllo")
    assert outcome == ToolOutcome(True, "wrote 6 bytes to out/deep/r.md")
    target = work / "out" / "deep" / "r.md"
    assert target.read_text(encoding="utf-8") == "héllo"
    assert target.stat().st_mode & 0o777 == 0o644
    assert os.listdir(target.parent) == ["r.md"]  # no temp file left behind


def test_write_file_refused_outside_allowlist(work: Path) -> None:
    for engine in (PermissionEngine(work), PermissionEngine(work, write_allowlist=["digest.md"])):
        outcome = call(registry_for(engine), "write_file", path="other.txt", content="x")
        assert not outcome.ok
        assert outcome.content.startswith("ERROR: permission denied: write to 'other.txt' refused")
        assert not (work / "other.txt").exists()


def test_write_file_through_dir_symlink_out_refused(work: Path, tmp_path: Path) -> None:
    (work / "out").symlink_to(tmp_path / "outside", target_is_directory=True)
    registry = registry_for(PermissionEngine(work, write_allowlist=["out/*"]))
    outcome = call(registry, "write_file", path="out/planted.txt", content="x")
    assert not outcome.ok
    assert "resolves outside the working directory" in outcome.content
    assert not (tmp_path / "outside" / "planted.txt").exists()


def test_write_file_failure_leaves_old_content(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (work / "digest.md").write_text("old digest")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    outcome = call(
        registry_for(PermissionEngine(work, write_allowlist=["digest.md"])),
        "write_file",
        path="digest.md",
        content="new digest",
    )
    assert outcome == ToolOutcome(False, "ERROR: tool 'write_file' failed: OSError: disk full")
    assert (work / "digest.md").read_text() == "old digest"
    assert sorted(os.listdir(work)) == ["digest.md", "notes.md"]  # the temp file was removed


# ---------------------------------------------------------------------------- http_get


def test_http_get_connects_to_the_checked_address(work: Path, http_server: FakeServer) -> None:
    engine, lookups = loopback_engine(work)
    outcome = call(registry_for(engine), "http_get", url=f"http://fake.test:{http_server.port}/hello")
    assert outcome == ToolOutcome(True, "HTTP 200\nhello world")
    # fake.test exists only in our resolver, so the request reached the pinned address.
    assert lookups == ["fake.test"]
    assert http_server.requests == [("/hello", f"fake.test:{http_server.port}")]


def test_http_get_status_and_charset(work: Path, http_server: FakeServer) -> None:
    registry = registry_for(loopback_engine(work)[0])
    assert call(registry, "http_get", url=f"http://fake.test:{http_server.port}/missing") == ToolOutcome(
        True, "HTTP 404\nno such page"
    )
    latin = call(registry, "http_get", url=f"http://fake.test:{http_server.port}/latin1")
    assert latin == ToolOutcome(True, "HTTP 200\ncafé")


def test_http_get_private_address_refused_without_test_flag(work: Path, http_server: FakeServer) -> None:
    engine, _ = loopback_engine(work, allow_private_addresses=False)
    outcome = call(registry_for(engine), "http_get", url=f"http://fake.test:{http_server.port}/hello")
    assert not outcome.ok
    assert "resolves to 127.0.0.1, a loopback address" in outcome.content
    assert http_server.requests == []


def test_http_get_host_not_allowlisted(work: Path, http_server: FakeServer) -> None:
    engine, lookups = loopback_engine(work)
    outcome = call(registry_for(engine), "http_get", url=f"http://127.0.0.1:{http_server.port}/hello")
    assert not outcome.ok
    assert "host '127.0.0.1' is not in the HTTP allowlist" in outcome.content
    assert lookups == []
    assert http_server.requests == []


def test_http_get_caps_body(work: Path, http_server: FakeServer) -> None:
    engine, _ = loopback_engine(work, http_max_bytes=100)
    outcome = call(registry_for(engine), "http_get", url=f"http://fake.test:{http_server.port}/big")
    assert outcome.ok
    status, body, note = outcome.content.split("\n")
    assert (status, body) == ("HTTP 200", "x" * 100)
    assert note == "[truncated: only the first 100 bytes of the body are shown]"


def test_http_get_stops_reading_at_the_cap(work: Path, http_server: FakeServer) -> None:
    engine, _ = loopback_engine(work, http_max_bytes=100, http_timeout_s=2)
    outcome = call(registry_for(engine), "http_get", url=f"http://fake.test:{http_server.port}/endless")
    assert outcome.ok, outcome.content
    assert outcome.content.split("\n")[:2] == ["HTTP 200", "z" * 100]


def test_http_get_does_not_follow_redirects(work: Path, http_server: FakeServer) -> None:
    outcome = call(
        registry_for(loopback_engine(work)[0]),
        "http_get",
        url=f"http://fake.test:{http_server.port}/redirect",
    )
    assert outcome.ok
    assert outcome.content.startswith("HTTP 302\nredirect not followed; Location: /hello\n")
    assert [path for path, _ in http_server.requests] == ["/redirect"]


def test_http_get_times_out(work: Path) -> None:
    # A listening socket that never accepts: the connection is queued and no reply ever comes.
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        engine, _ = loopback_engine(work, http_timeout_s=0.3)
        outcome = call(registry_for(engine), "http_get", url=f"http://fake.test:{silent.getsockname()[1]}/")
    finally:
        silent.close()
    assert not outcome.ok
    assert "timed out" in outcome.content


def test_http_get_ends_at_its_deadline_however_the_server_drips(work: Path, http_server: FakeServer) -> None:
    # Every byte comes well within the 1 s timeout, so only an overall deadline stops the call.
    engine, _ = loopback_engine(work, http_timeout_s=1)
    began = time.monotonic()
    outcome = call(registry_for(engine), "http_get", url=f"http://fake.test:{http_server.port}/drip")
    elapsed = time.monotonic() - began
    assert elapsed < 5, f"the call took {elapsed:.1f}s; the server drips for 12 s"
    assert not outcome.ok
    assert "timed out: no complete answer within 1s" in outcome.content


def test_http_get_decodes_only_allowlisted_charsets(work: Path, http_server: FakeServer) -> None:
    registry = registry_for(loopback_engine(work)[0], max_result_chars=1_000_000)
    began = time.monotonic()
    outcome = call(registry, "http_get", url=f"http://fake.test:{http_server.port}/punycode")
    elapsed = time.monotonic() - began
    assert outcome.ok
    status, body, note = outcome.content.split("\n")
    assert (status, body) == ("HTTP 200", "a" * 200_000)  # read as UTF-8
    assert note.startswith("[charset 'punycode' is not supported, decoded as UTF-8")
    assert elapsed < 5, f"decoding took {elapsed:.1f}s"
    # The well-known ones are still honoured.
    assert call(registry, "http_get", url=f"http://fake.test:{http_server.port}/utf16") == ToolOutcome(
        True, "HTTP 200\nnaïve"
    )


def _self_signed(tmp_path: Path, hostname: str) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_https_pins_address_and_verifies_the_host_name(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_path, key_path = _self_signed(tmp_path, "secure.test")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_path, key_path)
    # The client trusts only the test certificate; verification and hostname checks stay on.
    trust_test_cert = lambda: ssl.create_default_context(cafile=str(cert_path))  # noqa: E731
    monkeypatch.setattr(guarded_http, "tls_context", trust_test_cert)
    servers = _serve(server_tls)
    server = next(servers)
    try:
        registry = registry_for(loopback_engine(work)[0])
        ok = call(registry, "http_get", url=f"https://secure.test:{server.port}/hello")
        assert ok == ToolOutcome(True, "HTTP 200\nhello world")
        assert server.requests == [("/hello", f"secure.test:{server.port}")]
        # Same IP under another name: the certificate does not match, so the call must fail.
        wrong = call(registry, "http_get", url=f"https://wrong.test:{server.port}/hello")
        assert not wrong.ok
        assert "SSLCertVerificationError" in wrong.content
        assert len(server.requests) == 1
    finally:
        servers.close()

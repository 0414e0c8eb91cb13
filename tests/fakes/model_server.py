"""A scripted OpenAI-compatible chat completions server for tests.

It is a real HTTP server on loopback, so the code under test talks to it through the official
``openai`` SDK exactly as in production (URL building, headers, JSON parsing, error mapping,
timeouts). Each test scripts the answers as a queue of ``Step``s; every chat completion request
consumes one step in order and is recorded for later assertions.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.batch_api import FakeBatchApi

CHAT_PATH = "/v1/chat/completions"
BATCH_PATHS = ("/v1/files", "/v1/batches")  # the Batch API's, served by batch_api.FakeBatchApi


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # keys lower-cased, so lookups don't depend on the client's casing
    body: dict | None  # parsed JSON body; None when the body is absent or not JSON
    raw: bytes = b""  # the body as sent (a file upload is multipart, not JSON)


@dataclass(frozen=True)
class Step:
    """One scripted answer. Build it with the module-level builders rather than directly."""

    status: int = 200
    payload: dict[str, Any] | bytes = b""  # dicts are JSON-encoded; bytes are sent verbatim
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0
    dynamic: Callable[[RecordedRequest], Step] | None = None


# ---------------------------------------------------------------------------------------------
# Step builders
# ---------------------------------------------------------------------------------------------


def _completion(
    message: dict[str, Any],
    finish_reason: str,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    usage: bool,
    model: str,
) -> Step:
    body: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
    }
    if usage:
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    return Step(payload=body)


def reply(
    content: str,
    *,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    usage: bool = True,
    model: str = "scripted",
    finish_reason: str = "stop",
) -> Step:
    """A plain assistant text message."""
    message = {"role": "assistant", "content": content, "refusal": None}
    return _completion(
        message,
        finish_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        usage=usage,
        model=model,
    )


def tool_calls(
    calls: Sequence[tuple[str, dict | str] | tuple[str, dict | str, str]],
    *,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    content: str | None = None,
    usage: bool = True,
    model: str = "scripted",
) -> Step:
    """One assistant message carrying several tool calls: (name, arguments[, call_id]) tuples.

    String arguments are sent raw so tests can exercise malformed-JSON handling.
    """
    rendered = []
    for call in calls:
        name, arguments = call[0], call[1]
        call_id = call[2] if len(call) > 2 else f"call_{uuid.uuid4().hex[:24]}"
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        rendered.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}})
    message = {"role": "assistant", "content": content, "refusal": None, "tool_calls": rendered}
    return _completion(
        message,
        "tool_calls",
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        usage=usage,
        model=model,
    )


def tool_call(
    name: str,
    arguments: dict | str,
    *,
    call_id: str | None = None,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    content: str | None = None,
    usage: bool = True,
    model: str = "scripted",
) -> Step:
    """An assistant message with a single tool call."""
    call = (name, arguments) if call_id is None else (name, arguments, call_id)
    return tool_calls(
        [call],
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        content=content,
        usage=usage,
        model=model,
    )


# Types and codes as the real API reports them, so SDK-side error handling sees familiar shapes.
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def error(
    status: int,
    message: str = "scripted error",
    *,
    retry_after: float | None = None,
    error_type: str | None = None,
) -> Step:
    """An OpenAI-shaped error response; ``retry_after`` adds a Retry-After header (seconds)."""
    default_type, code = _ERROR_TYPES.get(status, ("server_error", None))
    payload = {"error": {"message": message, "type": error_type or default_type, "param": None, "code": code}}
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    return Step(status=status, payload=payload, headers=headers)


def slow(seconds: float, step: Step) -> Step:
    """Delay ``step`` by ``seconds``; only the handling thread waits, the server stays responsive."""
    return replace(step, delay=step.delay + seconds)


def malformed(body: bytes = b"{not json", status: int = 200, content_type: str = "application/json") -> Step:
    """Send ``body`` verbatim, e.g. to test how the client copes with a broken response."""
    return Step(status=status, payload=body, content_type=content_type)


def respond(fn: Callable[[RecordedRequest], Step]) -> Step:
    """Compute the step from the incoming request at answer time."""
    return Step(dynamic=fn)


# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, like the real API; every response carries Content-Length.
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        return RecordedRequest(self.command, self.path.split("?", 1)[0], headers, body, raw)

    def do_GET(self) -> None:
        request = self._read_request()
        if request.path.startswith(BATCH_PATHS):
            self._send(self.server.owner.batch_api.handle(request))
        elif request.path == "/v1/models":
            data = [{"id": "scripted", "object": "model", "created": 0, "owned_by": "tests"}]
            self._send(Step(payload={"object": "list", "data": data}))
        else:
            self._send(error(404, f"no route for GET {request.path}"))

    def do_POST(self) -> None:
        request = self._read_request()
        if request.path.startswith(BATCH_PATHS):
            self._send(self.server.owner.batch_api.handle(request))
            return
        if request.path != CHAT_PATH:
            self._send(error(404, f"no route for POST {request.path}"))
            return
        step = self.server.owner._next_step(request)
        # Resolve dynamic steps (which may themselves be dynamic or slow) until a concrete answer.
        while True:
            if step.delay and self.server.owner._stopping.wait(step.delay):
                return  # server is stopping: drop the request instead of answering
            if step.dynamic is None:
                break
            step = step.dynamic(request)
        self._send(step)

    def _send(self, step: Step) -> None:
        payload = step.payload
        data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        try:
            self.send_response(step.status)
            self.send_header("Content-Type", step.content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in step.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its timeout fired during a slow step); nothing to answer.
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck handler must never keep the test process alive

    def __init__(self, address: tuple[str, int], owner: ScriptedModelServer) -> None:
        super().__init__(address, _Handler)
        self.owner = owner
        self.connections: set[socket.socket] = set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Disconnects and sockets closed by stop() are expected; anything else is a fake bug.
        if not self.owner._stopping.is_set():
            super().handle_error(request, client_address)


class ScriptedModelServer:
    """Loopback OpenAI chat completions server answering from a per-test script."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.default_step: Step | None = None
        self.batch_api = FakeBatchApi()  # its requests are kept apart: `requests` is chat calls only
        self._queue: deque[Step] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    @property
    def pending(self) -> int:
        """Scripted steps not consumed yet (handy to assert a test used the whole script)."""
        with self._lock:
            return len(self._queue)

    def script(self, *steps: Step) -> None:
        with self._lock:
            self._queue.extend(steps)

    def reset(self) -> None:
        """Forget the script, the recorded requests and the default step."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.default_step = None
            self.batch_api = FakeBatchApi()

    def _next_step(self, request: RecordedRequest) -> Step:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
            if self.default_step is not None:
                return self.default_step
            count = len(self.requests)
        # Fail loudly so a test notices the code under test made more calls than it scripted.
        return error(500, f"script exhausted: unexpected chat completion call #{count}")

    def start(self) -> ScriptedModelServer:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes slow steps so they drop out immediately
        httpd.shutdown()
        httpd.server_close()
        # Close keep-alive and in-flight connections so clients see the server go away now.
        for conn in list(httpd.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

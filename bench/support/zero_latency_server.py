"""A zero-latency OpenAI-compatible server scripting tool round-trips, in a process of its own.

Every conversation is the same: the model calls the `add` tool TOOL_TURNS times, one call a
turn, then answers `RESULT: {"sum": N}`. The answer depends only on how many tool results the
request holds, so any client, any framework and any number of them get the same script. A
model name ending in `@N` asks for N tool turns instead (longer conversations, same script).

Each response leaves in one TCP segment with Nagle off: written in two (headers, then body),
as http.server does by default, a keep-alive client waits out a 40 ms delayed ACK per call,
and that wait, not the clients, would be what gets measured.

    python bench/support/zero_latency_server.py     # prints its base URL, serves until stdin closes
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOOL_TURNS = 9  # so a conversation is 10 model calls: 9 tool calls and the answer
USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def answer(body: dict[str, Any], serial: int) -> dict[str, Any]:
    messages = body.get("messages", [])
    results = sum(1 for m in messages if m.get("role") == "tool")
    model = str(body.get("model", ""))
    turns = int(model.rsplit("@", 1)[1]) if "@" in model else TOOL_TURNS
    if results < turns:
        arguments = json.dumps({"a": results, "b": 1})
        call = {
            "id": f"call_{serial}",
            "type": "function",
            "function": {"name": "add", "arguments": arguments},
        }
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": f'RESULT: {{"sum": {turns}}}'}
        finish = "stop"
    return {
        "id": f"chatcmpl-{serial}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "bench"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": USAGE,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    disable_nagle_algorithm = True
    wbufsize = io.DEFAULT_BUFFER_SIZE  # headers and body flushed together after the handler
    serial = 0
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with Handler.lock:
            Handler.serial += 1
            serial = Handler.serial
        if self.path.split("?", 1)[0].endswith("/chat/completions"):
            status, payload = 200, answer(body, serial)
        else:
            status, payload = 404, {"error": {"message": f"no route for POST {self.path}", "type": "invalid"}}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        print(f"http://{host}:{port}/v1", flush=True)
        sys.stdin.read()  # the benchmark closes stdin to stop the server
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()

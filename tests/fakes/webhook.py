"""A webhook receiver on loopback: records every request, answers 200 unless scripted otherwise.

    server = FakeWebhook().start()
    server.fail_next(503)            # the next request gets a 503
    server.posts                     # [WebhookRequest(path, headers, body), ...]

A GET is recorded too: a client that followed a redirect would arrive as one.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class WebhookRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased keys
    body: Any  # the JSON body, parsed


class FakeWebhook:
    def __init__(self) -> None:
        self.posts: list[WebhookRequest] = []
        self._answers: list[tuple[int, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> FakeWebhook:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, status: int, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._answers.append((status, headers or {}))

    def _answer(self) -> tuple[int, dict[str, str]]:
        with self._lock:
            return self._answers.pop(0) if self._answers else (200, {})


def _handler(fake: FakeWebhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's name
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with fake._lock:
                fake.posts.append(WebhookRequest("POST", self.path, headers, json.loads(raw or b"null")))
            status, extra = fake._answer()
            body = b'{"ok": true}' if status < 300 else b'{"error": "planted-response-secret"}'
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST  # a followed redirect would arrive as a GET

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

    return Handler

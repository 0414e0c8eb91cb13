"""A fake Slack on loopback: the Web API methods the delivery uses, and incoming webhooks.

Real HTTP, so the provider hooks and slack_sdk build, send and parse requests exactly as they
would against slack.com. Every request is recorded; `fail_next` scripts an error answer.

    POST /api/chat.postMessage | chat.update | files.getUploadURLExternal
         | files.completeUploadExternal | conversations.list      (Web API, needs the token)
    POST /upload/<file_id>                                          (the upload URL handed out)
    POST /services/<T>/<B>/<secret>                                 (incoming webhook)
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN = "xoxb-fake-token-0123456789"
WEBHOOK_PATH = "/services/T000FAKE/B000FAKE/webhooksecret0123"
CHANNELS = {"digest": "C0DIGEST1"}


@dataclass
class SlackRequest:
    method: str
    path: str  # without the query string
    headers: dict[str, str]  # lower-cased keys
    params: dict[str, Any]  # query, form and JSON body merged (JSON wins)
    raw: bytes


class FakeSlack:
    def __init__(self) -> None:
        self.requests: list[SlackRequest] = []
        self.uploads: dict[str, bytes] = {}
        self._failures: list[tuple[str, int, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        # A short poll interval: shutdown() waits up to one interval, in every test's teardown.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def fail_next(self, path: str, status: int = 500, body: Any = "internal_error") -> None:
        """The next request to `path` gets this answer instead of the normal one."""
        self._failures.append((path, status, body))

    def calls(self, path: str) -> list[SlackRequest]:
        return [r for r in self.requests if r.path == path]

    # -- answers ------------------------------------------------------------------------------

    def answer(self, req: SlackRequest) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(req)
            for i, (path, status, body) in enumerate(self._failures):
                if path == req.path:
                    del self._failures[i]
                    return status, body
            seq = next(self._ids)
        if req.path == WEBHOOK_PATH:
            return 200, "ok"
        if req.path.startswith("/upload/"):
            self.uploads[req.path.rsplit("/", 1)[1]] = req.raw
            return 200, "OK - uploaded"
        if not req.path.startswith("/api/"):
            return 404, "no_service"
        if req.headers.get("authorization") != f"Bearer {TOKEN}":
            return 200, {"ok": False, "error": "invalid_auth"}
        return 200, self._api(req.path.removeprefix("/api/"), req.params, seq)

    def _api(self, method: str, p: dict[str, Any], seq: int) -> dict[str, Any]:
        ts = f"1700000000.{seq:06d}"
        if method == "chat.postMessage":
            channel = CHANNELS.get(str(p.get("channel", "")).lstrip("#"), p.get("channel"))
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": p.get("text")}}
        if method == "chat.update":
            return {"ok": True, "channel": p["channel"], "ts": p["ts"], "text": p.get("text")}
        if method == "files.getUploadURLExternal":
            file_id = f"F{seq:08d}"
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.base_url}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = json.loads(p["files"]) if isinstance(p["files"], str) else p["files"]
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        if method == "conversations.list":
            channels = [{"id": cid, "name": name} for name, cid in CHANNELS.items()]
            return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}
        return {"ok": False, "error": "unknown_method"}


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            params: dict[str, Any] = dict(parse_qsl(url.query))
            ctype = self.headers.get("Content-Type", "")
            if "json" in ctype and raw:
                params.update(json.loads(raw))
            elif "form-urlencoded" in ctype:
                params.update(parse_qsl(raw.decode()))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = fake.answer(SlackRequest(self.command, url.path, headers, params, raw))
            data = json.dumps(body).encode() if isinstance(body, dict) else str(body).encode()
            self.send_response(status)
            ctype = "application/json" if isinstance(body, dict) else "text/plain"
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler

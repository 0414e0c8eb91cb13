"""A sample company directory over HTTP, on loopback, for the `enrichment` job's embedded default.

`agentjobs run enrichment` serves it for the length of the run and points the job's
`source_url` and `allow_urls` at it: no internet, no server started by hand. It answers
`GET /companies/<url-quoted company name>` with a JSON record of the generated customers'
companies, and, on purpose, a few answers the job must refuse: a record larger than the
default 64 KiB cap (Tyrell), an HTML page (Soylent), no record (Wayne), and hostile text
(Vandelay's industry, Kramerica's `javascript:` website).

Tests use the same server with their own answers (tests/fakes/directory.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

PREFIX = "/companies/"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


Responder = Callable[[str], Answer]  # the unquoted company name -> the answer

# base name -> (industry, employees, website); the country comes from the name's legal form.
_COMPANIES: dict[str, tuple[str, int, str]] = {
    "globex": ("Manufacturing", 1200, "https://globex.example"),
    "initech": ("Software", 85, "https://initech.example"),
    "umbrella": ("Pharmaceuticals", 5400, "https://umbrella.example"),
    "hooli": ("Internet services", 32000, "https://hooli.example"),
    "stark": ("Aerospace and defence", 18000, "https://stark.example"),
    "soylent": ("Food production", 950, "https://soylent.example"),
    "tyrell": ("Robotics", 2600, "https://tyrell.example"),
    "vandelay": ("<script>alert(1)</script> **Imports** @here", 12, "https://vandelay.example"),
    "kramerica": ("Consulting", 3, "javascript:alert(1)"),
}
# A legal form, written without dots ("G.m.b.H." is "gmbh"), and the country it names.
_COUNTRIES = {
    "gmbh": "DE",
    "kk": "JP",
    "kabushiki": "JP",
    "pty": "AU",
    "inc": "US",
    "incorporated": "US",
    "ltd": "GB",
    "limited": "GB",
}


def sample_record(name: str) -> dict[str, Any] | None:
    words = [w.strip("*[]().,!<>@").replace(".", "") for w in name.casefold().split()]
    base = next((w for w in words if w in _COMPANIES), None)
    if base is None:
        return None
    industry, employees, website = _COMPANIES[base]
    country = next((_COUNTRIES[w] for w in words if w in _COUNTRIES), None)
    return {
        "name": name,
        "industry": industry,
        "country": country or "US",
        "employees": employees,
        "website": website,
        "founded": 1950 + len(name) % 60,
        "description": f"{base.capitalize()} is a sample company of the agentjobs demo directory.",
    }


def sample_answer(name: str) -> Answer:
    """The sample directory's answer for `name`, its planted refusals included."""
    record = sample_record(name)
    if record is None or "wayne" in name.casefold():
        return Answer(404, b'{"error": "no such company"}')
    if "soylent" in name.casefold():
        return Answer(200, b"<html><body><h1>Soylent</h1><p>It's people.</p></body></html>", "text/html")
    if "tyrell" in name.casefold():
        record["description"] = "More human than human. " * 4000  # ~92 KB, over the 64 KiB default
    return Answer(200, json.dumps(record).encode())


def _handler(respond: Responder, seen: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # the run's own log says what was fetched

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            seen.append(path)
            if not path.startswith(PREFIX):
                answer = Answer(404, b'{"error": "not found"}')
            else:
                answer = respond(unquote(path[len(PREFIX) :]))
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

    return Handler


@dataclass
class Directory:
    url: str  # the lookup prefix, e.g. http://127.0.0.1:40123/companies/
    requests: list[str]  # the paths asked for, in order


@contextmanager
def serve_directory(respond: Responder = sample_answer) -> Iterator[Directory]:
    """A directory on 127.0.0.1 (a free port) for the length of the `with` block."""
    seen: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(respond, seen))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="company-directory", daemon=True)
    thread.start()
    try:
        yield Directory(f"http://127.0.0.1:{server.server_address[1]}{PREFIX}", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

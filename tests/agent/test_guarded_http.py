"""guarded_get against real loopback servers: it connects to the address it checked (a DNS answer
that changes afterwards reaches nothing), sends the host name and credentials only where they
belong, follows redirects hop by hop up to its cap, and reads at most what it may."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentjobs.agent.errors import PermissionDenied
from agentjobs.agent.guarded_http import (
    DeadlineExceeded,
    Fetched,
    FetchFailed,
    Target,
    guarded_get,
    normalize_host,
    parse_http_url,
    public_target,
)

# (status, headers, body) per path; anything else is a 404.
Routes = dict[str, tuple[int, dict[str, str], bytes]]


@dataclass
class Site:
    port: int
    routes: Routes
    seen: list[dict[str, str]] = field(default_factory=list)  # each request's headers, lower-cased keys

    def url(self, path: str, host: str = "site.test") -> str:
        return f"http://{host}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        site.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        status, headers, body = site.routes.get(self.path, (404, {}, b"no such page"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Routes], Site]]:
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(routes: Routes) -> Site:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.site = Site(port=server.server_address[1], routes=routes)  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server.site  # type: ignore[attr-defined]

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


def loopback_check(
    *ports: int, answers: list[str] | None = None
) -> tuple[Callable[[str], Target], list[str]]:
    """A `check` that resolves every name with `answers` in turn (then the last one again), lets
    loopback through on `ports` only, and records the hosts it looked up."""
    looked_up: list[str] = []
    replies = list(answers or ["127.0.0.1"])

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return [replies.pop(0) if len(replies) > 1 else replies[0]]

    def check(url: str) -> Target:
        return public_target(url, resolver=resolver, allow_loopback_ports=ports)

    return check, looked_up


def get(url: str, check: Callable[[str], Target], **kwargs) -> Fetched:
    options = {"timeout_s": 5.0, "deadline_s": 10.0, "max_bytes": 1000, **kwargs}
    return guarded_get(url, check=check, **options)


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(serve):
    # A rebinding name: an allowed address on the check, a private one on any later lookup.
    site = serve({"/": (200, {}, b"the checked host")})
    check, looked_up = loopback_check(site.port, answers=["127.0.0.1", "10.0.0.5"])
    fetched = get(site.url("/"), check)
    assert fetched.body == b"the checked host"
    assert looked_up == ["site.test"]  # checked once, and the socket went to that answer


def test_the_request_names_the_host_and_port_and_asks_for_an_uncompressed_body(serve):
    site = serve({"/p?q=1": (200, {}, b"ok")})
    check, _ = loopback_check(site.port)
    get(site.url("/p?q=1", host="Site.TEST."), check, headers={"User-Agent": "agentjobs-test"})
    (request,) = site.seen
    assert request["path"] == "/p?q=1"
    assert request["host"] == f"site.test:{site.port}"  # the name, normalised, not the IP
    # A compressed body would slip past the byte cap.
    assert request["accept-encoding"] == "identity" and request["user-agent"] == "agentjobs-test"


def test_a_body_of_exactly_the_cap_is_whole_and_one_byte_more_is_truncated(serve):
    site = serve({"/even": (200, {}, b"a" * 100), "/over": (200, {}, b"b" * 101)})
    check, _ = loopback_check(site.port)
    even = get(site.url("/even"), check, max_bytes=100)
    over = get(site.url("/over"), check, max_bytes=100)
    assert (len(even.body), even.truncated) == (100, False)
    assert (over.body, over.truncated) == (b"b" * 100, True)


def test_redirects_are_followed_relative_to_each_hop_up_to_the_cap(serve):
    site = serve(
        {
            "/a/start": (302, {"Location": "next"}, b""),
            "/a/next": (301, {"Location": "/final"}, b""),
            "/final": (200, {}, b"arrived"),
            "/loop": (302, {"Location": "/loop"}, b""),
        }
    )
    check, _ = loopback_check(site.port)
    fetched = get(site.url("/a/start"), check, max_redirects=2)
    assert (fetched.status, fetched.body, fetched.url) == (200, b"arrived", site.url("/final"))
    assert [r["path"] for r in site.seen] == ["/a/start", "/a/next", "/final"]
    with pytest.raises(FetchFailed, match=r"more than 1 redirects \(the last one from 'http://site\.test"):
        get(site.url("/a/start"), check, max_redirects=1)
    with pytest.raises(FetchFailed, match="more than 3 redirects"):
        get(site.url("/loop"), check, max_redirects=3)


def test_a_redirect_to_a_port_not_allowed_is_refused_naming_the_hop_and_not_fetched(serve):
    inner = serve({"/secret": (200, {}, b"internal")})
    outer = serve({"/go": (302, {"Location": inner.url("/secret")}, b"")})
    check, _ = loopback_check(outer.port)  # the inner server's port is not allowed
    with pytest.raises(PermissionDenied) as err:
        get(outer.url("/go"), check, max_redirects=5)
    assert str(err.value).startswith(f"redirect 1 (from {outer.url('/go')!r}) refused: URL ")
    assert "a loopback address" in str(err.value)
    assert inner.seen == []


def test_credentials_in_the_url_go_to_their_own_origin_only(serve):
    other = serve({"/landing": (200, {}, b"elsewhere")})
    site = serve(
        {
            "/private": (302, {"Location": "/private/2"}, b""),
            "/private/2": (302, {"Location": other.url("/landing")}, b""),
        }
    )
    check, _ = loopback_check(site.port, other.port)
    url = f"http://reader:p%40ss@site.test:{site.port}/private"
    assert get(url, check, max_redirects=3).body == b"elsewhere"
    # base64("reader:p@ss"): the same origin gets it on every hop, the next origin never.
    assert [r.get("authorization") for r in site.seen] == ["Basic cmVhZGVyOnBAc3M="] * 2
    assert "authorization" not in other.seen[0]


def test_a_spent_deadline_stops_before_the_next_hop(serve, monkeypatch):
    site = serve({"/hop": (302, {"Location": "/end"}, b""), "/end": (200, {}, b"late")})
    check, _ = loopback_check(site.port)

    def slow_check(url: str) -> Target:
        if url.endswith("/end"):
            threading.Event().wait(0.5)  # the deadline runs out while the next hop is checked
        return check(url)

    with pytest.raises(DeadlineExceeded, match=r"no complete answer within 0\.3s"):
        get(site.url("/hop"), slow_check, deadline_s=0.3, max_redirects=2)
    assert [r["path"] for r in site.seen] == ["/hop"]


@pytest.mark.parametrize(
    ("content_type", "body", "text", "noted"),
    [
        ("text/plain; charset=LATIN1", "café".encode("latin-1"), "café", False),
        ("text/plain", "naïve".encode(), "naïve", False),  # no charset: UTF-8
        ("text/plain; charset=no-such-codec", "ok ✓".encode(), "ok ✓", True),
        ("text/plain; charset=utf-8", b"bad \xff byte", "bad \ufffd byte", False),
    ],
    ids=["alias", "undeclared", "unknown", "invalid-bytes"],
)
def test_the_body_decodes_as_declared_when_that_charset_is_safe(content_type, body, text, noted):
    headers = Message()
    headers["Content-Type"] = content_type
    fetched = Fetched(url="http://x/", status=200, reason="OK", headers=headers, body=body, truncated=False)
    decoded, note = fetched.text()
    assert decoded == text
    assert (note is not None) == noted
    if noted:
        assert note.startswith("charset 'no-such-codec' is not supported, decoded as UTF-8 (supported: ")


def test_a_hostile_charset_is_named_only_in_part():
    headers = Message()
    headers["Content-Type"] = "text/plain; charset=" + "x" * 5000
    fetched = Fetched(url="http://x/", status=200, reason="OK", headers=headers, body=b"hi", truncated=False)
    decoded, note = fetched.text()
    assert decoded == "hi" and note is not None and len(note) < 300


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM./feed", ("https", "example.com", 443)),
        ("http://bücher.example:8080/", ("http", "xn--bcher-kva.example", 8080)),
        ("http://[0:0:0:0:0:0:0:1]/", ("http", "::1", 80)),
    ],
)
def test_urls_are_reduced_to_scheme_normalised_host_and_port(url, expected):
    assert parse_http_url(url) == expected


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http:///path", "it has no host"),
        ("http://exa mple.com/", "whitespace or control characters"),
        ("http://example.com:port/", "malformed URL"),
        ("javascript:alert(1)", "only http and https URLs are allowed"),
    ],
)
def test_a_url_that_is_not_a_plain_web_address_is_refused_naming_why(url, says):
    with pytest.raises(PermissionDenied, match=says) as err:
        parse_http_url(url)
    assert repr(url) in str(err.value)


def test_an_ip_literal_is_written_one_way_whatever_its_spelling():
    assert normalize_host("::FFFF:7F00:1") == "::ffff:7f00:1"
    assert normalize_host("2001:DB8:0:0::1") == "2001:db8::1"

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agentjobs.sources.rss import SUMMARY_CHARS, fetch_feeds

START = datetime(2025, 3, 10, tzinfo=UTC)
END = START + timedelta(days=1)


def rss(title: str | None, *items: tuple[str, str, datetime | None, str]) -> bytes:
    """RSS 2.0 with items (title, link, pubDate or None, description HTML)."""
    parts = []
    for name, link, when, description in items:
        stamp = f"<pubDate>{format_datetime(when)}</pubDate>" if when else ""
        parts.append(
            f"<item><title>{name}</title><link>{link}</link>{stamp}"
            f"<description><![CDATA[{description}]]></description></item>"
        )
    head = f"<title>{title}</title>" if title else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>{head}'
        f"<link>https://example.org/</link>{''.join(parts)}</channel></rss>"
    ).encode()


def atom(title: str, *entries: tuple[str, str, str, str | None]) -> bytes:
    """Atom with entries (title, link, updated, published or None)."""
    parts = []
    for name, link, updated, published in entries:
        pub = f"<published>{published}</published>" if published else ""
        parts.append(
            f'<entry><title>{name}</title><link href="{link}"/><id>{link}</id>'
            f"<updated>{updated}</updated>{pub}<summary>{name} summary</summary></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{title}</title><id>urn:x</id><updated>2025-03-10T00:00:00Z</updated>{''.join(parts)}</feed>"
    ).encode()


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


class FeedServer:
    """Loopback HTTP server: path -> (status, body, seconds to wait before answering).

    A route whose status is 3xx answers with its body as the Location; `drip_headers` paths
    send their headers one byte every 0.3 s (for 12 s) before any body.
    """

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, float]] = {}
        self.drip_headers: set[str] = set()
        self.requests: list[str] = []
        self.stop = threading.Event()
        routes, drip_headers, requests, stop = self.routes, self.drip_headers, self.requests, self.stop

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                requests.append(self.path)
                if self.path in drip_headers:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    for byte in b"X-Slow: " + b"a" * 40:
                        if stop.wait(0.3):
                            return
                        try:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        except OSError:
                            return  # the client hung up, as it should
                    return
                status, body, delay = routes.get(self.path, (404, b"<html>Not Found</html>", 0.0))
                time.sleep(delay)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", body.decode())
                    body = b""
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # the client stopped at its size cap and hung up, as it should

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def metadata_server() -> Iterator[FeedServer]:
    """A second loopback server standing in for an internal service a feed must not reach."""
    server = FeedServer()
    leak = rss("Internal", ("creds", "https://example.org/leak", START, "x"))
    server.routes["/latest/meta-data/"] = (200, leak, 0.0)
    yield server
    server.close()


def test_rss_entries_inside_the_interval_only_oldest_first(tmp_path: Path) -> None:
    feed = write(
        tmp_path / "news.xml",
        rss(
            "Airflow News",
            ("late", "https://example.org/late", START + timedelta(hours=20), "x"),
            ("before", "https://example.org/before", START - timedelta(seconds=1), "x"),
            ("at start", "https://example.org/start", START, "x"),
            ("at end", "https://example.org/end", END, "x"),
            ("undated", "https://example.org/undated", None, "x"),
        ),
    )
    snap = fetch_feeds([feed], START, END)

    assert snap.source == "rss"
    assert [(e.title, e.date) for e in snap.entries] == [
        ("at start", START),
        ("late", START + timedelta(hours=20)),
    ]
    assert {e.feed for e in snap.entries} == {"Airflow News"}
    # The undated entry cannot be placed in a day; the snapshot says it was left out.
    assert [(n.source, n.problem) for n in snap.notes] == [
        (f"rss:{feed}", "1 entry without a date (published or updated): skipped")
    ]


def test_undated_entries_are_counted_per_feed(tmp_path: Path) -> None:
    """A feed that stopped dating its items must not look like a quiet day: each feed's count of
    undated entries is a note of its own, and a feed with none has no note."""
    undated = write(
        tmp_path / "undated.xml",
        rss(
            "No dates",
            ("a", "https://example.org/a", None, "x"),
            ("b", "https://example.org/b", None, "x"),
            ("c", "javascript:alert(1)", None, "x"),
            ("dated", "https://example.org/dated", START + timedelta(hours=1), "x"),
        ),
    )
    dated = write(tmp_path / "dated.xml", rss("Dated", ("d", "https://example.org/d", START, "x")))
    snap = fetch_feeds([undated, dated], START, END)
    assert [e.title for e in snap.entries] == ["d", "dated"]
    assert [(n.source, n.problem) for n in snap.notes] == [
        (f"rss:{undated}", "3 entries without a date (published or updated): skipped")
    ]


def test_atom_uses_published_else_updated(tmp_path: Path) -> None:
    feed = write(
        tmp_path / "atom.xml",
        atom(
            "LLM ops",
            # Published last week, edited today: not news today.
            ("edited", "https://example.org/edited", "2025-03-10T09:00:00Z", "2025-03-03T09:00:00Z"),
            ("only updated", "https://example.org/updated", "2025-03-10T10:00:00+01:00", None),
        ),
    )
    snap = fetch_feeds([feed], START, END)
    assert [(e.title, e.date) for e in snap.entries] == [("only updated", START + timedelta(hours=9))]


def test_summaries_are_plain_text_one_line_and_short(tmp_path: Path) -> None:
    html = (
        "<p>Release <b>3.1</b> &amp; friends</p>\n\n<script>alert('x')</script>"
        "<ul><li>one</li><li>two</li></ul>" + "<p>" + "word " * 200 + "</p>"
    )
    feed = write(tmp_path / "f.xml", rss("F", ("<b>Bold</b> title", "https://example.org/a", START, html)))
    (entry,) = fetch_feeds([feed], START, END).entries

    assert entry.summary.startswith("Release 3.1 & friends one two word word")
    assert "<" not in entry.summary and "alert" not in entry.summary and "\n" not in entry.summary
    assert len(entry.summary) <= SUMMARY_CHARS and entry.summary.endswith("…")
    assert entry.title == "Bold title"


def test_only_http_links_are_kept(tmp_path: Path) -> None:
    feed = write(
        tmp_path / "f.xml",
        rss(
            "F",
            ("script", "javascript:alert(1)", START, "x"),
            ("ok", "https://example.org/ok", START, "x"),
        ),
    )
    assert [e.url for e in fetch_feeds([feed], START, END).entries] == ["https://example.org/ok"]


def test_the_same_link_in_two_feeds_is_kept_once_from_the_first(tmp_path: Path) -> None:
    first = write(tmp_path / "a.xml", rss("First", ("shared", "https://example.org/s", START, "x")))
    second = write(
        tmp_path / "b.xml",
        atom(
            "Second",
            ("shared again", "https://example.org/s", "2025-03-10T05:00:00Z", None),
            ("own", "https://example.org/own", "2025-03-10T01:00:00Z", None),
        ),
    )
    snap = fetch_feeds([first, second], START, END)
    assert [(e.feed, e.url) for e in snap.entries] == [
        ("First", "https://example.org/s"),
        ("Second", "https://example.org/own"),
    ]


def test_a_feed_without_a_title_is_named_by_its_location(tmp_path: Path) -> None:
    feed = write(tmp_path / "untitled.xml", rss(None, ("x", "https://example.org/x", START, "x")))
    assert fetch_feeds([feed], START, END).entries[0].feed == feed


def test_feeds_over_http_dead_and_malformed_ones_noted(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.routes["/good.xml"] = (200, rss("Good", ("a", "https://example.org/a", START, "x")), 0.0)
    feed_server.routes["/broken.xml"] = (200, b"<html><body>this is not a feed", 0.0)
    feed_server.routes["/down.xml"] = (503, b"maintenance", 0.0)
    missing = str(tmp_path / "missing.xml")
    feeds = [feed_server.url(p) for p in ("/gone.xml", "/broken.xml", "/down.xml", "/good.xml")] + [missing]

    snap = fetch_feeds(feeds, START, END, allow_loopback_ports=[feed_server.port])

    assert [e.url for e in snap.entries] == ["https://example.org/a"]
    notes = {n.source: n.problem for n in snap.notes}
    assert notes[f"rss:{feed_server.url('/gone.xml')}"] == "HTTP 404 Not Found: skipped"
    assert notes[f"rss:{feed_server.url('/broken.xml')}"].startswith("malformed feed")
    assert notes[f"rss:{feed_server.url('/down.xml')}"].startswith("HTTP 503")
    assert notes[f"rss:{missing}"] == "file not found: skipped"
    assert len(snap.notes) == 4


def test_a_slow_or_huge_feed_is_noted_not_waited_for(feed_server: FeedServer) -> None:
    feed_server.routes["/slow.xml"] = (200, rss("Slow"), 2.0)
    feed_server.routes["/huge.xml"] = (
        200,
        rss("Huge", ("a", "https://example.org/a", START, "y" * 5000)),
        0.0,
    )
    began = time.monotonic()
    snap = fetch_feeds(
        [feed_server.url("/slow.xml"), feed_server.url("/huge.xml")],
        START,
        END,
        timeout_s=0.3,
        max_bytes=2000,
        allow_loopback_ports=[feed_server.port],
    )

    assert time.monotonic() - began < 1.5
    assert [n.problem for n in snap.notes] == [
        "timed out after 0.3s: skipped",
        "larger than 2000 bytes: skipped",
    ]


def test_credentials_in_a_feed_url_stay_out_of_the_notes(feed_server: FeedServer) -> None:
    url = feed_server.url("/private.xml").replace("http://", "http://reader:hunter2@")
    snap = fetch_feeds([url], START, END, allow_loopback_ports=[feed_server.port])
    assert snap.notes and "hunter2" not in snap.notes[0].model_dump_json()
    refused = fetch_feeds([url], START, END)  # the refusal quotes the URL: still no password
    assert "loopback" in refused.notes[0].problem and "hunter2" not in refused.notes[0].model_dump_json()


def test_a_feed_on_a_loopback_address_is_refused_by_default(feed_server: FeedServer) -> None:
    feed_server.routes["/feed.xml"] = (200, rss("Local", ("a", "https://example.org/a", START, "x")), 0.0)
    snap = fetch_feeds([feed_server.url("/feed.xml")], START, END)
    assert snap.entries == []
    assert snap.notes[0].problem == (
        f"URL {feed_server.url('/feed.xml')!r} refused: host '127.0.0.1' resolves to 127.0.0.1, "
        "a loopback address; only public internet addresses may be reached: skipped"
    )
    assert feed_server.requests == []


def test_a_redirect_into_an_internal_address_is_refused_and_nothing_from_it_kept(
    feed_server: FeedServer, metadata_server: FeedServer
) -> None:
    internal = metadata_server.url("/latest/meta-data/")
    feed_server.routes["/feed.xml"] = (302, internal.encode(), 0.0)
    # Only the feed server's port is let through, as the feed's host would be public in production.
    snap = fetch_feeds([feed_server.url("/feed.xml")], START, END, allow_loopback_ports=[feed_server.port])

    assert snap.entries == []
    assert metadata_server.requests == []
    (note,) = snap.notes
    hop = f"redirect 1 (from {feed_server.url('/feed.xml')!r}) refused: URL {internal!r} refused"
    assert note.problem.startswith(hop)
    assert "a loopback address" in note.problem


def test_redirects_between_allowed_addresses_are_followed_up_to_a_cap(feed_server: FeedServer) -> None:
    feed_server.routes["/old.xml"] = (301, b"/new.xml", 0.0)
    feed_server.routes["/new.xml"] = (200, rss("Moved", ("a", "https://example.org/a", START, "x")), 0.0)
    feed_server.routes["/loop.xml"] = (302, b"/loop.xml", 0.0)
    feeds = [feed_server.url("/old.xml"), feed_server.url("/loop.xml")]
    snap = fetch_feeds(feeds, START, END, allow_loopback_ports=[feed_server.port])
    assert [e.feed for e in snap.entries] == ["Moved"]
    assert [n.problem.split(" (")[0] for n in snap.notes] == ["more than 5 redirects"]
    assert feed_server.requests.count("/loop.xml") == 6


def test_a_feed_dripping_its_headers_is_cut_at_the_deadline(feed_server: FeedServer) -> None:
    # Each byte arrives well within the timeout; only a deadline on the whole download stops it.
    feed_server.drip_headers.add("/drip.xml")
    began = time.monotonic()
    snap = fetch_feeds(
        [feed_server.url("/drip.xml")], START, END, timeout_s=1, allow_loopback_ports=[feed_server.port]
    )
    elapsed = time.monotonic() - began
    assert elapsed < 5, f"took {elapsed:.1f}s; the server drips for 12 s"
    assert [n.problem for n in snap.notes] == ["timed out after 1s: skipped"]


def test_a_feed_declaring_a_quadratic_encoding_is_refused_fast(tmp_path: Path) -> None:
    # Python's punycode codec is quadratic: feedparser would spend tens of seconds on this one,
    # and on the second it raises an error that it does not catch.
    slow = write(
        tmp_path / "slow.xml",
        b'<?xml version="1.0" encoding="punycode"?><rss version="2.0"><channel><title>x-' + b"a" * 200_000,
    )
    plain = rss("Plain", ("a", "https://example.org/a", START, "x")).replace(b"UTF-8", b"PunyCode")
    crash = write(tmp_path / "crash.xml", plain)
    good = write(tmp_path / "good.xml", rss("Good", ("b", "https://example.org/b", START, "x")))
    began = time.monotonic()
    snap = fetch_feeds([slow, crash, good], START, END)
    elapsed = time.monotonic() - began

    assert elapsed < 5, f"took {elapsed:.1f}s"
    assert [e.feed for e in snap.entries] == ["Good"]
    assert [n.problem for n in snap.notes] == [
        "the feed declares the encoding 'punycode', which is not supported: skipped",
    ] * 2


def test_an_injected_fetch_replaces_the_network(tmp_path: Path) -> None:
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return rss("Injected", ("a", "https://example.org/a", START, "x"))

    snap = fetch_feeds(["https://feeds.invalid/a.xml"], START, END, fetch=fetch)
    assert asked == ["https://feeds.invalid/a.xml"]
    assert [e.feed for e in snap.entries] == ["Injected"]


def test_feed_bytes_that_look_like_a_path_are_not_opened(tmp_path: Path) -> None:
    # feedparser opens bytes naming an existing file; the fetcher must hand it a stream.
    secret = write(tmp_path / "secret.xml", rss("Secret", ("a", "https://example.org/leak", START, "x")))
    snap = fetch_feeds(["https://feeds.invalid/a.xml"], START, END, fetch=lambda url: secret.encode())
    assert snap.entries == []
    assert [n.problem.split(" (")[0] for n in snap.notes] == ["malformed feed"]

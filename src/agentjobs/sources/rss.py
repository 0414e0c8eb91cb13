"""RSS and Atom entries published in one data interval.

The bytes are fetched here (with the agent's guarded GET: public addresses only, every
redirect checked, capped in size and time) and only then handed to feedparser: given a
URL, or even bytes that look like a path, feedparser would fetch or open it itself,
without our caps. Feed content is untrusted, so only http(s) links are kept and summaries
are reduced to plain text.
"""

from __future__ import annotations

import calendar
import codecs
import http.client
import io
import re
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import feedparser

from agentjobs.agent.errors import PermissionDenied
from agentjobs.agent.guarded_http import DeadlineExceeded, FetchFailed, guarded_get, public_target
from agentjobs.sources.errors import FeedError
from agentjobs.sources.snapshot import FeedEntry, SourceNote, SourceSnapshot

SUMMARY_CHARS = 280
_TITLE_CHARS = 300
_HEADERS = {
    "User-Agent": "agentjobs-feed-reader/0.1 (+https://airflow.apache.org)",
    "Accept": "application/rss+xml, application/atom+xml, */*;q=0.5",
}
_MAX_REDIRECTS = 5
# feedparser decodes a feed with the encoding its XML declaration names. Python's punycode
# codec is quadratic (200 kB take tens of seconds; every other text codec, < 20 ms) and
# raises an error feedparser does not catch, so a feed declaring it is refused up front.
_QUADRATIC_CODECS = frozenset({"punycode"})
# feedparser's own rule (feedparser.encodings.RE_XML_PI_ENCODING), on the first line only.
_XML_DECLARED_ENCODING = re.compile(rb"^<\?.*encoding=['\"](.*?)['\"].*\?>")


def fetch_feeds(
    feeds: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    fetch: Callable[[str], bytes] | None = None,
    timeout_s: float = 20,
    max_bytes: int = 5_000_000,
    allow_loopback_ports: Collection[int] = (),
) -> SourceSnapshot:
    """Entries dated (published, else updated) in [start, end), oldest first, one per link.

    A feed is an http(s) URL or a local file path. `fetch`, when given, replaces the HTTP
    download of URLs (local files are always read from disk). A feed that cannot be read
    or parsed becomes a note naming it, and the other feeds are still read. A URL, or a
    redirect, to a non-public address (loopback, private, link-local...) is refused and noted;
    `allow_loopback_ports` exists only for tests, whose fake feed servers listen on loopback.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware datetimes")
    download = fetch or partial(
        _download, timeout_s=timeout_s, max_bytes=max_bytes, allow_loopback_ports=allow_loopback_ports
    )
    snapshot = SourceSnapshot(source="rss", interval_start=start, interval_end=end)
    seen: set[str] = set()
    for feed in feeds:
        shown = _display(feed)
        try:
            data = download(feed) if _is_url(feed) else _read_file(feed, max_bytes=max_bytes)
            entries, undated = _parse(data, shown, start, end)
        except (FeedError, OSError, http.client.HTTPException, PermissionDenied, FetchFailed) as exc:
            problem = _describe(exc, timeout_s)
            if password := urlsplit(feed).password:  # an error text may quote the URL it failed on
                problem = problem.replace(password, "***")
            snapshot.notes.append(SourceNote(source=f"rss:{shown}", problem=problem))
            continue
        if undated:  # said, not silently dropped: a feed that stopped dating its items looks quiet
            entries_word = "entry" if undated == 1 else "entries"
            problem = f"{undated} {entries_word} without a date (published or updated): skipped"
            snapshot.notes.append(SourceNote(source=f"rss:{shown}", problem=problem))
        for entry in entries:
            # The same story often appears in several feeds; the first feed listed wins.
            if entry.url not in seen:
                seen.add(entry.url)
                snapshot.entries.append(entry)
    snapshot.entries.sort(key=lambda e: (e.date, e.url))
    return snapshot


def _is_url(feed: str) -> bool:
    return urlsplit(feed).scheme.lower() in ("http", "https")


def _display(feed: str) -> str:
    """The feed as shown in notes and entries: a URL without any user:password part."""
    parts = urlsplit(feed)
    if _is_url(feed) and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return feed


def _download(url: str, *, timeout_s: float, max_bytes: int, allow_loopback_ports: Collection[int]) -> bytes:
    # The same guard as the agent's http_get: every hop, redirects included, must resolve to
    # a public address (a feed must not redirect the fetcher into the metadata service), and
    # timeout_s bounds the whole download, so a server dribbling bytes cannot hold the task.
    fetched = guarded_get(
        url,
        check=partial(public_target, allow_loopback_ports=allow_loopback_ports),
        timeout_s=timeout_s,
        deadline_s=timeout_s,
        max_bytes=max_bytes,
        max_redirects=_MAX_REDIRECTS,
        headers=_HEADERS,
    )
    if fetched.status >= 400:
        raise FeedError(f"HTTP {fetched.status} {fetched.reason}".strip())
    if fetched.truncated:
        raise FeedError(f"larger than {max_bytes} bytes")
    return fetched.body


def _read_file(path: str, *, max_bytes: int) -> bytes:
    if urlsplit(path).scheme:
        raise FeedError("unsupported location: expected an http(s) URL or a local file path")
    with open(Path(path).expanduser(), "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FeedError(f"larger than {max_bytes} bytes")
    return data


def _describe(exc: Exception, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError | DeadlineExceeded):
        return f"timed out after {timeout_s:g}s: skipped"
    if isinstance(exc, FileNotFoundError):
        return "file not found: skipped"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"could not read the file ({exc.strerror or exc}): skipped"
    if isinstance(exc, OSError | http.client.HTTPException):  # refused, reset, TLS, bad answer
        return f"could not connect ({type(exc).__name__}: {exc}): skipped"
    return f"{exc}: skipped"


def _declared_encoding(data: bytes) -> str | None:
    """The encoding a feed's XML declaration names, found the way feedparser finds it."""
    match = _XML_DECLARED_ENCODING.match(data.removeprefix(codecs.BOM_UTF8))
    return match.group(1).decode("utf-8", errors="replace").strip().lower() if match else None


def _parse(data: bytes, shown: str, start: datetime, end: datetime) -> tuple[list[FeedEntry], int]:
    """The entries inside [start, end), and how many entries had no date to place them by."""
    declared = _declared_encoding(data)
    try:
        codec = codecs.lookup(declared).name if declared else None
    except LookupError:
        codec = None  # feedparser falls back to utf-8 and windows-1252 by itself
    if codec in _QUADRATIC_CODECS:
        raise FeedError(f"the feed declares the encoding {declared[:40]!r}, which is not supported")
    try:
        # A stream, never bytes or str: feedparser treats those as a URL or a path to open.
        parsed = feedparser.parse(io.BytesIO(data))
    except ValueError as exc:  # a UnicodeError feedparser does not catch: hostile bytes never crash a run
        raise FeedError(f"malformed feed (cannot decode it: {_text(str(exc), 160)})") from exc
    if parsed.bozo and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise FeedError(f"malformed feed ({_text(str(reason), 160) if reason else 'not RSS or Atom'})")
    title = _text(parsed.feed.get("title", ""), _TITLE_CHARS) or shown
    kept = []
    undated = 0
    for item in parsed.entries:
        stamp = item.get("published_parsed") or item.get("updated_parsed")
        if stamp is None:  # cannot be placed in the interval
            undated += 1
            continue
        link = (item.get("link") or "").strip()
        if not _is_url(link):
            continue  # javascript:, data:, relative... links are unsafe to pass on
        date = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)  # feedparser gives UTC
        if not start <= date < end:
            continue
        kept.append(
            FeedEntry(
                feed=title,
                title=_text(item.get("title", ""), _TITLE_CHARS) or link,
                url=link,
                date=date,
                summary=_text(item.get("summary", ""), SUMMARY_CHARS),
            )
        )
    return kept, undated


class _TextOnly(HTMLParser):
    _SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        self.parts.append(" ")  # <p>a</p><p>b</p> reads "a b", not "ab"

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _text(html: str, limit: int) -> str:
    """HTML → plain text on one line, at most `limit` characters, cut at a word."""
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    text = re.sub(r"\s+", " ", "".join(parser.parts)).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"

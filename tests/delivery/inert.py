"""What a delivered digest may hold: text, formatting and links to the snapshot's http(s) URLs.

Shared by the renderer tests and the end-to-end tests that read what the SMTP and Slack
fakes received.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import Any

_WEB_URL = re.compile(r"https?://[^\s|<>]+")
_SLACK_SYNTAX = re.compile(r"<([^>]*)>")
_ACTIVE_TAGS = ("img", "script", "iframe", "form", "object", "embed", "svg", "style", "link")
# Bidi embeddings, overrides, isolates and marks: invisible, they reorder what the reader sees.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def html_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def hrefs(html: str) -> list[str]:
    return [attrs.get("href") or "" for tag, attrs in html_tags(html) if tag == "a"]


def assert_no_bidi_controls(text: str) -> None:
    """No bidi control in `text`, as a character or as a character reference (`&#8238;`)."""
    found = BIDI_CONTROLS.findall(html.unescape(text))
    assert not found, f"bidi controls {[f'U+{ord(c):04X}' for c in found]} in {text[:300]!r}"


def assert_inert_html(page: str, allowed_urls: Iterable[str] | None = None) -> None:
    """No image or script, no attribute (on*=, style, src) but an http(s) href, each href one
    of `allowed_urls` when given, and no bidi control."""
    allowed = set(allowed_urls) if allowed_urls is not None else None
    assert_no_bidi_controls(page)
    for tag, attrs in html_tags(page):
        assert tag not in _ACTIVE_TAGS, (tag, attrs)
        permitted = {"href"} if tag == "a" else {"charset"} if tag == "meta" else set()
        assert set(attrs) <= permitted, (tag, attrs)
        if tag == "a":
            href = attrs["href"] or ""
            assert _WEB_URL.fullmatch(href), href
            assert allowed is None or href in allowed, f"{href} is not a URL of the snapshot"


def slack_texts(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(type, text) of every text object in the blocks: section, header and context texts."""
    for block in blocks:
        if "text" in block:
            yield block["text"]["type"], block["text"]["text"]
        for element in block.get("elements", []):
            yield element["type"], element["text"]


def assert_no_live_slack_syntax(mrkdwn: str, allowed_urls: Iterable[str] | None = None) -> None:
    """Every `<...>` Slack would act on is a link to an http(s) URL (one of `allowed_urls`
    when given) whose label holds no `|`: no <!channel>, <!here>, <@U..>, <#C..>."""
    allowed = set(allowed_urls) if allowed_urls is not None else None
    for inner in _SLACK_SYNTAX.findall(mrkdwn):
        target, _, label = inner.partition("|")
        assert _WEB_URL.fullmatch(target), f"<{inner}> is live Slack syntax"
        assert "|" not in label, f"<{inner}> has a | in its label"
        assert allowed is None or target in allowed, f"{target} is not a URL of the snapshot"


def assert_inert_slack(blocks: list[dict[str, Any]], allowed_urls: Iterable[str] | None = None) -> None:
    """Every text of the blocks without live Slack syntax, NUL or bidi control; sections verbatim."""
    allowed = list(allowed_urls) if allowed_urls is not None else None
    for kind, text in slack_texts(blocks):
        assert "\x00" not in text
        assert_no_bidi_controls(text)
        if kind == "mrkdwn":
            assert_no_live_slack_syntax(text, allowed)
    for block in blocks:
        if block["type"] == "section":
            assert block["text"].get("verbatim") is True, block

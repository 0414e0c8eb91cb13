"""The demo feed re-dated to any day: every item inside the run's day, read back by the RSS source
as the demo promises, and the bundled file the rendering of its own day."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from agentjobs.sources import demo_feed
from agentjobs.sources.demo_feed import DEMO_ITEMS, demo_item_urls, render_demo_feed
from agentjobs.sources.rss import fetch_feeds
from tests.sources.test_rss import write

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_feed_renders_inside_any_day(tmp_path: Path) -> None:
    day = date(2031, 7, 4)
    feed = write(tmp_path / "demo.xml", render_demo_feed(day).encode())
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    snap = fetch_feeds([feed], start, start + timedelta(days=1))

    assert [e.url for e in snap.entries] == demo_item_urls()
    assert len(snap.entries) == len(DEMO_ITEMS) == 8
    assert snap.entries[0].date.hour == 1 and snap.entries[-1].date.hour == 22
    assert all(e.summary and "<" not in e.summary for e in snap.entries)


def test_the_bundled_demo_feed_is_the_rendering_of_its_day() -> None:
    bundled = (REPO / "include" / "demo" / "feeds" / "agentjobs-demo.xml").read_text(encoding="utf-8")
    assert bundled == render_demo_feed(date(2026, 1, 15))


def test_every_item_is_dated_inside_the_day_even_at_the_years_end():
    day = date(2030, 12, 31)
    channel = ET.fromstring(render_demo_feed(day)).find("channel")
    assert channel is not None
    stamps = [parsedate_to_datetime(item.findtext("pubDate") or "") for item in channel.iter("item")]
    assert len(stamps) == len(DEMO_ITEMS)
    start = datetime(2030, 12, 31, tzinfo=UTC)
    assert all(start <= stamp < start + timedelta(days=1) for stamp in stamps)
    assert stamps == sorted(stamps)


def test_markup_in_the_items_is_escaped_so_the_feed_stays_well_formed(monkeypatch):
    hostile = (5, "Tom & Jerry <script>alert(1)</script>", "x?a=1&b=2", "<p>a</p>]]><b>&amp;</b>")
    monkeypatch.setattr(demo_feed, "DEMO_ITEMS", (hostile,))
    channel = ET.fromstring(render_demo_feed(date(2026, 3, 1))).find("channel")
    assert channel is not None
    (item,) = channel.iter("item")
    assert item.findtext("title") == "Tom & Jerry <script>alert(1)</script>"
    assert item.findtext("link") == item.findtext("guid") == "https://example.org/x?a=1&b=2"
    assert item.findtext("description") == "<p>a</p>]]><b>&amp;</b>"  # text, as RSS carries HTML

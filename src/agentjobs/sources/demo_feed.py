"""The demo feed, re-dated to any day.

A feed file with fixed dates is empty for every run but one, so the demo renders the same
items with dates inside the run's own day. `include/demo/feeds/agentjobs-demo.xml` is
this rendering for one fixed day, for reading and for pointing a feed reader at.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from xml.sax.saxutils import escape

# (hour UTC, title, path under https://example.org/, description as HTML)
DEMO_ITEMS: tuple[tuple[int, str, str, str], ...] = (
    (
        1,
        "Airflow 3 asset-aware scheduling in practice",
        "airflow/asset-scheduling",
        "<p>How <b>asset events</b> replace cross-DAG sensors, with three patterns that hold up.</p>",
    ),
    (
        4,
        "Capping LLM agent spend per task instance",
        "llmops/budget-caps",
        "<p>Token, cost and wall-clock caps checked <em>before</em> each model call, across retries.</p>",
    ),
    (
        7,
        "Running a local model for nightly summaries",
        "llmops/local-models",
        "<p>A small quantized model on a CPU box suffices for a digest &amp; costs nothing per run.</p>",
    ),
    (
        10,
        "Retry policies: transient versus permanent failures",
        "airflow/retry-policies",
        "<p>Why a contract violation should fail at once while a 429 deserves another try.</p>",
    ),
    (
        13,
        "Structured outputs with JSON Schema",
        "llmops/structured-outputs",
        "<p>Constraining replies with <code>response_format</code> and validating them strictly.</p>",
    ),
    (
        16,
        "Treating fetched content as untrusted input",
        "llmops/untrusted-input",
        "<p>Feeds, issues and commit messages can carry instructions; the agent must read them as data.</p>",
    ),
    (
        19,
        "Deferrable operators and the triggerer",
        "airflow/deferrable-operators",
        "<p>Freeing worker slots while waiting on external systems.</p>",
    ),
    (
        22,
        "Evaluating digest quality without a human in the loop",
        "llmops/digest-evals",
        "<p>Checking every link and SHA in a summary against the snapshot it was written from.</p>",
    ),
)

FEED_TITLE = "agentjobs demo feed"


def demo_item_urls() -> list[str]:
    return [f"https://example.org/{path}" for _, _, path, _ in DEMO_ITEMS]


def render_demo_feed(day: date) -> str:
    """An RSS 2.0 document whose items are all dated on `day` (01:00 to 22:00 UTC)."""
    items = []
    for (hour, title, _, description), url in zip(DEMO_ITEMS, demo_item_urls(), strict=True):
        published = format_datetime(datetime.combine(day, time(hour), UTC), usegmt=True)
        items.append(
            "    <item>\n"
            f"      <title>{escape(title)}</title>\n"
            f"      <link>{escape(url)}</link>\n"
            f'      <guid isPermaLink="true">{escape(url)}</guid>\n'
            f"      <pubDate>{published}</pubDate>\n"
            f"      <description>{escape(description)}</description>\n"
            "    </item>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0">\n'
        "  <channel>\n"
        f"    <title>{escape(FEED_TITLE)}</title>\n"
        "    <link>https://example.org/</link>\n"
        "    <description>Airflow and LLM-ops notes for the agentjobs daily digest demo</description>\n"
        f"{''.join(items)}"
        "  </channel>\n"
        "</rss>\n"
    )

"""Markdown → Slack mrkdwn and Block Kit, without a server."""

from __future__ import annotations

import pytest

from agentjobs.delivery.slack_blocks import (
    MAX_BLOCKS,
    MAX_HEADER_CHARS,
    fallback_text,
    fit_blocks,
    markdown_blocks,
    to_mrkdwn,
)


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __also__", "*bold* and *also*"),
        ("*it* and **b** then *it2*", "_it_ and *b* then _it2_"),
        ("~~gone~~", "~gone~"),
        ("[the PR](https://x.test/pr/1)", "<https://x.test/pr/1|the PR>"),
        ("see <https://x.test/a?b=1&c=2>", "see <https://x.test/a?b=1&c=2>"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("- item **one**", "• item *one*"),
        ("  * nested", "  • nested"),
        ("`**not bold** <x>`", "`**not bold** &lt;x&gt;`"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("snake_case_name", "snake_case_name"),
    ],
)
def test_to_mrkdwn(markdown, mrkdwn):
    assert to_mrkdwn(markdown) == mrkdwn


def test_headings_rules_and_code():
    md = "# Title\n\nintro\n\n### Small\n\n```\n**raw** <x>\n```\n\n***\n\nend"
    blocks = markdown_blocks(md)
    assert [b["type"] for b in blocks] == ["header", "section", "divider", "section"]
    assert blocks[1]["text"]["text"] == "intro\n\n*Small*\n\n```\n**raw** &lt;x&gt;\n```"


def test_header_is_plain_and_short():
    [block] = markdown_blocks("# A **bold** [link](https://x.test) " + "y" * 300)
    text = block["text"]["text"]
    assert text.startswith("A bold link yyy") and len(text) == MAX_HEADER_CHARS and text.endswith("…")


def test_fit_blocks_reports_cut():
    blocks, complete = fit_blocks("\n".join(f"# H{i}" for i in range(MAX_BLOCKS)))
    assert complete and len(blocks) == MAX_BLOCKS
    blocks, complete = fit_blocks("\n".join(f"# H{i}" for i in range(MAX_BLOCKS + 1)))
    assert not complete and len(blocks) == MAX_BLOCKS and blocks[-1]["type"] == "context"


def test_fallback_text():
    assert fallback_text("intro\n## Second\n# First") == "Second"
    assert fallback_text("no heading", title="Given") == "Given"
    assert fallback_text("  plain body  ") == "plain body"

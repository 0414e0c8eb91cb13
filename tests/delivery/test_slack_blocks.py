"""Markdown → Slack mrkdwn and Block Kit, without a server."""

from __future__ import annotations

import re

import pytest

from agentjobs.delivery.slack_blocks import (
    MAX_BLOCKS,
    MAX_HEADER_CHARS,
    fallback_text,
    fit_blocks,
    markdown_blocks,
    to_mrkdwn,
)
from tests.delivery.inert import assert_inert_slack, assert_no_live_slack_syntax, slack_texts


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


# --- Hostile text: sources and the model that read them write this markdown ---------------


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        # A PR title written as a link to a special command, mentions and channels written raw.
        ("[Advisory](!channel)", "Advisory"),
        (
            "<!channel> <!here> <@U024BE7LH> <#C024BE7LR>",
            "&lt;!channel&gt; &lt;!here&gt; &lt;@U024BE7LH&gt; &lt;#C024BE7LR&gt;",
        ),
        ("<!subteam^S01|@oncall>", "&lt;!subteam^S01|@oncall&gt;"),
        # A `|` in a URL would end Slack's URL there and make the rest the label.
        ("<https://evil.test|Signed>", "<https://evil.test%7CSigned>"),
        ("[the PR](https://evil.test|Signed)", "<https://evil.test%7CSigned|the PR>"),
        ("[a|b](https://x.test)", "<https://x.test|a¦b>"),
        # Only http(s) becomes a link; an image keeps its alt text and loses its (tracking) URL.
        ("[click](data:text/html;base64,PHNjcmlwdD4=)", "click"),
        ("<mailto:a@b.test> <ftp://x.test/f>", "&lt;mailto:a@b.test&gt; &lt;ftp://x.test/f&gt;"),
        ("![pixel](https://track.test/p.gif) seen", "pixel seen"),
        # Escaped markdown is text: no link, and the characters show without their backslashes.
        (r"\[Advisory\](https://evil.test) 2 \* 3", "[Advisory](https://evil.test) 2 * 3"),
        (r"snake\_case <b\>", "snake_case &lt;b&gt;"),
        # Entities are text too; the escaped forms Slack wants stay as they are.
        ("&lt;!channel&gt; &amp; &#60;!here&#62;", "&lt;!channel&gt; &amp; &lt;!here&gt;"),
        # NUL characters are no markup: dropped, never read as the renderer's own markers.
        ("\x005\x00 and \x000\x00 [a](https://x.test)", "5 and 0 <https://x.test|a>"),
        # Bidi controls, raw or as references, are dropped: `cod.exe` would show as `exe.doc`.
        (
            "\u202ecod.exe [\u2067fdp\u2069](https://x.test/\u202ea) &#8238;txt.exe &rlm;x &amp;#8238;",
            "cod.exe <https://x.test/a|fdp> txt.exe x &amp;#8238;",
        ),
    ],
)
def test_hostile_markdown_becomes_text(markdown, mrkdwn):
    assert to_mrkdwn(markdown) == mrkdwn
    assert_no_live_slack_syntax(mrkdwn)


def test_no_bidi_control_reaches_a_header_a_section_or_the_notification_text():
    # A header, a small heading, a fence and a bullet: each path of the renderer.
    markdown = "# Invoice \u202ecod.exe\n\n### \u2066Due\u2069\n\n```\n\u202etxt.exe\n```\n\n"
    markdown += "- &#x202E;fdp.exe\n"
    blocks = markdown_blocks(markdown)
    assert_inert_slack(blocks)
    assert [text for _, text in slack_texts(blocks)] == [
        "Invoice cod.exe",
        "*Due*\n\n```\ntxt.exe\n```\n\n• fdp.exe",
    ]
    assert fallback_text(markdown) == "Invoice cod.exe"
    assert fallback_text("\u202ebody", title="\u202etitle") == "title"


def test_a_javascript_link_keeps_only_its_text():
    out = to_mrkdwn("[x](javascript:alert(1)) and [y](JaVaScRiPt:alert)")
    assert "javascript" not in out.lower() and "<" not in out
    assert out.startswith("x") and " and y" in out


def test_sections_are_verbatim_so_slack_adds_no_mentions_or_links():
    blocks = markdown_blocks("# T\n\n@channel see #general and https://x.test\n\n### Sub\n\nmore")
    sections = [b for b in blocks if b["type"] == "section"]
    assert sections and all(b["text"]["verbatim"] is True for b in sections)


def test_nul_characters_never_crash_a_block():
    md = "# Title \x00\n\n### Repo \x005\x00\n\n- \x005\x00 subject\n\n```\n\x00code\n```"
    blocks = markdown_blocks(md)
    text = "".join(str(b) for b in blocks)
    assert "\x00" not in text and "5 subject" in text


def test_fallback_text_is_escaped():
    assert fallback_text("# <!channel> now") == "&lt;!channel&gt; now"
    assert fallback_text("no heading <@U1>") == "no heading &lt;@U1&gt;"


@pytest.mark.parametrize("at", range(2985, 3001))
def test_a_line_longer_than_a_section_is_never_cut_inside_a_link_or_an_escaped_character(at):
    """A feed title thousands of characters long: wherever the section limit falls, each link
    and each escaped `&`, `<`, `>` stays whole in one section (half a link shows as raw text)."""
    line = "x" * (at - 30) + " [Release notes](https://example.com/releases/v1) & <!channel> " + "y" * 100
    texts = [block["text"]["text"] for block in markdown_blocks(line)]
    assert all(len(text) <= 3000 for text in texts)
    joined = "".join(texts)
    assert "<https://example.com/releases/v1|Release notes>" in joined and "&amp; &lt;!channel&gt;" in joined
    assert sum("<https://example.com/releases/v1|Release notes>" in text for text in texts) == 1
    for text in texts:  # no piece starts or ends inside an escape or a link
        assert text.count("<") == text.count(">")
        assert not re.search(r"&(?:a|am|amp|l|lt|g|gt)?$", text) and not re.match(r"^(?:mp|p|t)?;", text)

"""Untrusted text in markdown: a reader sees exactly that text, one line, and never a link, image,
tag, heading or emphasis it spelled; `unescape` gives the text back for the checks.

Rendered with Python-Markdown with raw HTML on and attribute lists too, harsher than the
delivery's own renderer: the escaping must hold without the renderer's help.
"""

from __future__ import annotations

import html
import re

import markdown
import pytest

from agentjobs.jobs.markdown_text import (
    as_link,
    as_text,
    one_line,
    shown_text,
    unescape,
    without_bidi_controls,
)
from tests.delivery.inert import assert_no_bidi_controls, html_tags

HOSTILE = [
    "[Advisory](javascript:alert(1))",
    "![](https://tracker.example/pixel.gif)",
    "<https://elsewhere.example>",
    "<script>alert(1)</script> and <img src=x onerror=alert(1)>",
    "<mailto:ceo@example.org>",
    "# Not a heading",
    "> not a quote",
    "- not a list",
    "+ not a list",
    "1. not a numbered list",
    "12) not one either",
    "*not bold* **nor this** _nor this_ __nor this__",
    "`not code` and ``not code``",
    "Release {: .danger #x onclick=alert(1) }",
    "back\\slash \\* stays",
    "a < b, c > d, 1<2 and x<=y",
    "AT&T &amp; &#8238; &#x41; &copy; stay as typed",
    "[ref]: https://elsewhere.example",
    "| a | table | row |",
]


def rendered(text: str) -> str:
    return markdown.markdown(text, extensions=["attr_list", "tables", "fenced_code", "sane_lists"])


def shown(page: str) -> str:
    """The text a reader of `page` sees: the tags taken out, the references resolved."""
    return html.unescape(re.sub(r"<[^>]+>", "", page)).strip()


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_renders_as_exactly_that_text_in_one_paragraph(hostile):
    page = rendered(as_text(hostile))
    assert [tag for tag, _ in html_tags(page)] == ["p"], page
    assert shown(page) == hostile


@pytest.mark.parametrize("hostile", HOSTILE)
def test_unescape_gives_the_text_back(hostile):
    assert unescape(as_text(hostile)) == hostile


@pytest.mark.parametrize("hostile", HOSTILE)
def test_shown_text_is_the_text_a_reader_of_the_html_sees(hostile):
    assert shown_text(as_text(hostile)) == hostile  # what the rendered HTML shows (the test above)


def test_shown_text_keeps_code_and_the_documents_own_markdown():
    code = "`a &lt; b \\*` [x](https://e.test)\n```\n&amp; \\*\n```"  # literal in code: kept
    markdown = f"# R&amp;D\n\n- **Vec&lt;T&gt;** {code}\nend &copy;"
    assert shown_text(markdown) == f"# R&D\n\n- **Vec<T>** {code}\nend ©"


def test_snake_case_and_plain_text_are_left_as_they_are():
    # The plain-text part of a mail shows the markdown: escapes only where they are needed.
    for text in ("snake_case_name", "release 2.0 is out", "-5 degrees", "3 < 4", "a_b_c"):
        assert as_text(text) == text


def test_text_becomes_one_line_without_controls():
    assert one_line("first line\r\nsecond\tline\x00\x1b[31m") == "first line second line[31m"
    assert as_text("first line\r\nsecond\tline\x00\x1b[31m") == "first line second line\\[31m"
    assert one_line("  spread \n\n over   lines  ") == "spread over lines"
    # A newline would end a list item and start a heading of the attacker's.
    assert [tag for tag, _ in html_tags(rendered("- " + as_text("takeaway\n# Pwned")))] == ["ul", "li"]


def test_bidi_controls_are_dropped_so_the_text_reads_in_stored_order():
    # U+202E before `cod.exe` shows it as `exe.doc`.
    assert as_text("invoice\u202ecod.exe") == "invoicecod.exe"
    assert one_line("\u2066a\u2069 \u200eb\u200f \u061cc") == "a b c"
    # The zero-width joiner stays: emoji sequences and Indic scripts need it.
    assert one_line("👩\u200d💻") == "👩\u200d💻"


@pytest.mark.parametrize(
    "markdown_text",
    [
        "a\u202eb",
        "a&#8238;b",
        "a&#x202E;b",
        "a&#X202e;b",
        "a&rlm;b",
        "a&lrm;b",
        # Dropping one reference joins the pieces around it into another.
        "a&#82&#8238;38;b",
        "a&#x2&#x202E;02E;b",
    ],
)
def test_bidi_controls_as_characters_or_references_are_dropped(markdown_text):
    cleaned = without_bidi_controls(markdown_text)
    assert cleaned == "ab"
    assert_no_bidi_controls(cleaned)


def test_other_references_and_text_survive_the_bidi_cleaning():
    kept = "AT&amp;T &#65; &copy; &#8203; \u200d **bold** <https://example.org>"
    assert without_bidi_controls(kept) == kept


@pytest.mark.parametrize(
    "url",
    ["https://example.org/pulls/1", "http://example.org/a?b=1&c=2#frag", "HTTPS://EXAMPLE.ORG/X"],
)
def test_an_http_url_becomes_one_link_to_exactly_that_url(url):
    tags = html_tags(rendered(as_link(url)))
    links = [attrs for tag, attrs in tags if tag == "a"]
    assert len(links) == 1 and html.unescape(links[0]["href"] or "") == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.org/file",
        "https://example.org/ <img src=x>",
        "https://example.org/\nhttps://elsewhere.example",
        "https://example.org/>[x](javascript:alert(1))",
        "mailto:ceo@example.org",
    ],
)
def test_anything_else_is_shown_as_text_and_links_nowhere(url):
    page = rendered(as_link(url))
    assert [tag for tag, _ in html_tags(page)] == ["p"], page
    assert shown(page) == one_line(url)

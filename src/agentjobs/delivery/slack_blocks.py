"""Markdown → Slack Block Kit, within Slack's limits.

Limits (https://api.slack.com/reference/block-kit): 50 blocks a message, 3000 characters of
text a section, 150 of plain text a header. `#`/`##` headings become header blocks, `---` a
divider, everything else sections of mrkdwn packed up to the limit on line boundaries.

The markdown holds text from sources and from a model that read them, so nothing in it may
become Slack control syntax: every `&`, `<`, `>` is escaped, the only `<...>` produced are
links to http(s) URLs (with a `|` in the URL percent-encoded, so a label cannot be faked),
and sections are `verbatim`, so Slack itself turns no `@channel`, `#channel` or bare URL into
a mention or a link. Markdown backslash escapes and entities show as the character they stand for.
"""

from __future__ import annotations

import html
import re
from typing import Any

from agentjobs.jobs.markdown_text import without_bidi_controls

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s*```")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")
_CODE = re.compile(r"(?<!\\)`[^`\n]+`")
# Brackets and `!` written as `\[`, `\]`, `\!` are text, never the start or end of a link.
_LABEL = r"\[(?P<text>(?:\\.|[^\]\\\n])*)\]\((?P<url>[^)\s]*)\)"
_IMAGE = re.compile(r"(?<!\\)!" + _LABEL)
_LINK = re.compile(r"(?<![\\!])" + _LABEL)
_AUTOLINK = re.compile(r"<(?P<url>https?://[^>\s]+)>", re.IGNORECASE)
_WEB_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f<>]+", re.IGNORECASE)
# Markdown's backslash escapes (Python-Markdown's set) and character references.
_BACKSLASH = re.compile(r"\\([\\`*_{}\[\]()>#+\-.!|])")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# C0 controls but tab: no text anyone means, and \x00 and \x01 are this module's own markers.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BOLD = re.compile(r"(\*\*|__)(?P<body>\S(?:.*?\S)?)\1")
_ITALIC = re.compile(r"(?<![*\w])\*(?P<body>[^*\s](?:[^*]*?[^*\s])?)\*(?![*\w])")
_STRIKE = re.compile(r"~~(?P<body>\S(?:.*?\S)?)~~")
_STASHED = re.compile("\x00(\\d+)\x00")


def _escape(text: str) -> str:
    # The three characters Slack's mrkdwn requires escaped.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clean(text: str) -> str:
    # Bidi controls are invisible and reorder what the reader sees (U+202E + `cod.exe` as `exe.doc`).
    return without_bidi_controls(_CONTROL.sub("", text))


def _text(markdown: str) -> str:
    """Markdown text as the characters it shows: backslash escapes and entities resolved."""
    text = _BACKSLASH.sub(lambda m: m.group(1), markdown)
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)


def _web_url(url: str) -> str | None:
    """The URL fit for a Slack link, or None: http(s) only, and no `|`, `<`, `>` in it."""
    url = _text(url)
    if not _WEB_URL.fullmatch(url):
        return None
    # Slack ends the URL at the first `|` and takes the rest for the label.
    return url.replace("|", "%7C")


def to_mrkdwn(line: str) -> str:
    """One line of markdown → Slack mrkdwn (bold, italics, strike, links, bullets)."""
    kept: list[str] = []

    def stash(text: str) -> str:
        kept.append(text)
        return f"\x00{len(kept) - 1}\x00"

    def unstash(text: str) -> str:
        return _STASHED.sub(lambda m: kept[int(m.group(1))], text)

    def label(markdown: str) -> str:
        # A `|` in a label is only text, shown as a look-alike so Slack never splits on it.
        return unstash(_escape(_plain(markdown))).replace("|", "¦")

    def link(url: str, text: str | None) -> str:
        target, shown = _web_url(url), label(text) if text else None
        if target is None:  # only http(s) becomes a link; anything else is shown as text
            return shown if shown is not None else _escape(_text(url))
        return f"<{target}|{shown}>" if shown else f"<{target}>"

    line = _clean(line)  # a literal \x00 in the text would read as a stash marker
    line = _BULLET.sub(lambda m: stash(m.group(1) + "• "), line)
    line = _CODE.sub(lambda m: stash(_escape(m.group(0))), line)
    # An image is not shown in Slack: its alt text stays, its URL (a tracking pixel?) goes.
    line = _IMAGE.sub(lambda m: stash(label(m["text"])), line)
    line = _LINK.sub(lambda m: stash(link(m["url"], m["text"])), line)
    line = _AUTOLINK.sub(lambda m: stash(link(m["url"], None)), line)
    line = _BACKSLASH.sub(lambda m: stash(_escape(m.group(1))), line)
    line = _ENTITY.sub(lambda m: stash(_escape(html.unescape(m.group(0)))), line)
    line = _escape(line)
    # Bold goes through \x01 so the italic pattern never sees the single stars it produces.
    line = _BOLD.sub(lambda m: f"\x01{m['body']}\x01", line)
    line = _ITALIC.sub(lambda m: f"_{m['body']}_", line)
    line = _STRIKE.sub(lambda m: f"~{m['body']}~", line).replace("\x01", "*")
    return unstash(line)


def _plain(text: str) -> str:
    """Markdown as the plain text it shows: links and images keep their text, emphasis marks go."""
    text = _IMAGE.sub(lambda m: m["text"], text)
    text = _LINK.sub(lambda m: m["text"], text)
    return _text(re.sub(r"(?<!\\)(\*\*|__|~~|`)", "", text))


def _header(text: str) -> dict[str, Any]:
    text = _plain(_clean(text)) or " "  # plain_text: Slack shows it as is, nothing to escape
    if len(text) > MAX_HEADER_CHARS:
        text = text[: MAX_HEADER_CHARS - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    # verbatim: Slack adds no links or mentions of its own to what the renderer made.
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


# What a cut must not split: a link `<url|label>` (half would show as raw text) or an entity `&lt;`.
_TOKEN = re.compile(r"<[^<>]*>|&(?:amp|lt|gt);")


def _chunks(line: str) -> list[str]:
    """A line longer than a section, cut into section-sized pieces, never inside a link or an
    escaped character (a link longer than a section is the one thing cut anyway)."""
    pieces: list[str] = []
    while len(line) > MAX_SECTION_CHARS:
        cut = MAX_SECTION_CHARS
        for token in _TOKEN.finditer(line, cut // 2):
            if token.start() >= cut:
                break
            if cut < token.end() and token.start() > 0:
                cut = token.start()  # the piece ends before it; the next one starts with it
        pieces.append(line[:cut])
        line = line[cut:]
    return [*pieces, line]


def markdown_blocks(markdown: str, *, title: str | None = None) -> list[dict[str, Any]]:
    """All the blocks the markdown needs, however many (callers check against MAX_BLOCKS)."""
    blocks: list[dict[str, Any]] = [_header(title)] if title else []
    pending: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(pending).strip("\n")
        pending.clear()
        if text.strip():
            blocks.append(_section(text))

    def add(line: str) -> None:
        for piece in _chunks(line):
            if pending and len("\n".join([*pending, piece])) > MAX_SECTION_CHARS:
                flush()
            pending.append(piece)

    for raw in markdown.splitlines():
        if _FENCE.match(raw):
            in_fence = not in_fence
            add(raw.strip())
            continue
        heading = None if in_fence else _HEADING.match(raw)
        if heading and len(heading.group(1)) <= 2:
            flush()
            blocks.append(_header(heading.group(2)))
        elif heading:
            add(f"*{_escape(_plain(_clean(heading.group(2))))}*")
        elif not in_fence and _RULE.match(raw):
            flush()
            blocks.append({"type": "divider"})
        else:
            add(_escape(_clean(raw)) if in_fence else to_mrkdwn(raw))
    flush()
    return blocks


def fit_blocks(markdown: str, *, title: str | None = None) -> tuple[list[dict[str, Any]], bool]:
    """At most MAX_BLOCKS blocks, and whether they hold the whole markdown.

    When they do not, the last block says the message was cut, so a reader knows to look for
    the full digest elsewhere (S3, email).
    """
    blocks = markdown_blocks(markdown, title=title)
    if len(blocks) <= MAX_BLOCKS:
        return blocks, True
    kept = blocks[: MAX_BLOCKS - 1]
    kept.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "_(cut to fit Slack's limits)_"}]}
    )
    return kept, False


def fallback_text(markdown: str, *, title: str | None = None, limit: int = MAX_SECTION_CHARS) -> str:
    """The notification text Slack shows where blocks are not rendered (mrkdwn, so escaped)."""
    lines = _clean(markdown).splitlines()
    text = title or next((_plain(m.group(2)) for m in map(_HEADING.match, lines) if m), "")
    return _escape(_clean(text or markdown.strip())[:limit])

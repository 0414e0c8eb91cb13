"""Markdown → Slack Block Kit, within Slack's limits.

Limits (https://api.slack.com/reference/block-kit): 50 blocks a message, 3000 characters of
text a section, 150 of plain text a header. `#`/`##` headings become header blocks, `---` a
divider, everything else sections of mrkdwn packed up to the limit on line boundaries.
"""

from __future__ import annotations

import re
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s*```")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")
_CODE = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"\[(?P<text>[^\]\n]+)\]\((?P<url>[^)\s]+)\)")
_AUTOLINK = re.compile(r"<(?P<url>(?:https?|mailto):[^>\s]+)>")
_BOLD = re.compile(r"(\*\*|__)(?P<body>\S(?:.*?\S)?)\1")
_ITALIC = re.compile(r"(?<![*\w])\*(?P<body>[^*\s](?:[^*]*?[^*\s])?)\*(?![*\w])")
_STRIKE = re.compile(r"~~(?P<body>\S(?:.*?\S)?)~~")
_STASHED = re.compile("\x00(\\d+)\x00")


def _escape(text: str) -> str:
    # The three characters Slack's mrkdwn requires escaped.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(line: str) -> str:
    """One line of markdown → Slack mrkdwn (bold, italics, strike, links, bullets)."""
    kept: list[str] = []

    def stash(text: str) -> str:
        kept.append(text)
        return f"\x00{len(kept) - 1}\x00"

    line = _BULLET.sub(lambda m: stash(m.group(1) + "• "), line)
    line = _CODE.sub(lambda m: stash(_escape(m.group(0))), line)
    line = _LINK.sub(lambda m: stash(f"<{m['url']}|{_escape(m['text']).replace('|', '¦')}>"), line)
    line = _AUTOLINK.sub(lambda m: stash(f"<{m['url']}>"), line)
    line = _escape(line)
    # Bold goes through \x01 so the italic pattern never sees the single stars it produces.
    line = _BOLD.sub(lambda m: f"\x01{m['body']}\x01", line)
    line = _ITALIC.sub(lambda m: f"_{m['body']}_", line)
    line = _STRIKE.sub(lambda m: f"~{m['body']}~", line).replace("\x01", "*")
    return _STASHED.sub(lambda m: kept[int(m.group(1))], line)


def _plain(text: str) -> str:
    """Heading text for a plain_text header: links keep their text, emphasis marks go."""
    text = _LINK.sub(lambda m: m["text"], text)
    return re.sub(r"(\*\*|__|~~|`)", "", text)


def _header(text: str) -> dict[str, Any]:
    text = _plain(text) or " "
    if len(text) > MAX_HEADER_CHARS:
        text = text[: MAX_HEADER_CHARS - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _chunks(line: str) -> list[str]:
    """A line longer than a section, cut into section-sized pieces."""
    return [line[i : i + MAX_SECTION_CHARS] for i in range(0, len(line), MAX_SECTION_CHARS)] or [""]


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
            add(f"*{to_mrkdwn(_plain(heading.group(2)))}*")
        elif not in_fence and _RULE.match(raw):
            flush()
            blocks.append({"type": "divider"})
        else:
            add(_escape(raw) if in_fence else to_mrkdwn(raw))
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
    """The notification text Slack shows where blocks are not rendered."""
    text = title or next((_plain(m.group(2)) for m in map(_HEADING.match, markdown.splitlines()) if m), "")
    return (text or markdown.strip())[:limit]

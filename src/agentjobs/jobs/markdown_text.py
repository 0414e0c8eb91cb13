"""Untrusted text written into markdown so that it renders as that text and nothing else.

Titles, commit subjects, notes and the model's takeaways are hostile: a feed can title an
entry `[Advisory](javascript:...)`, `![](https://tracker/pixel)` or `<https://elsewhere>`.
`as_text` keeps them one line of text: markdown's metacharacters get a backslash (the
escapes Python-Markdown knows, so the plain-text file still reads right), a `<` that could
open an autolink or a tag and an `&` that would start a character reference become
references themselves. `unescape` is its inverse, for the checks that compare the digest
with the snapshot; `shown_text` resolves a whole document's escapes for a plain-text reader
(the email's text part).

Bidirectional formatting characters are dropped with the other controls: they are invisible
and reorder what a reader sees (U+202E before `cod.exe` shows it as `exe.doc`), in an email,
in Slack, in a file name. Dropped rather than marked, the text reads in the order it was
stored, as the PDF already shows it. The zero-width (non-)joiners stay: Persian, Indic
scripts and emoji sequences need them, and they reorder nothing.
"""

from __future__ import annotations

import html
import re

from agentjobs.lazy_pattern import lazy

# Anywhere in the text: code, emphasis, links and images, attribute lists, backslashes.
_ALWAYS = lazy(r"([\\`*\[\]{}])")
# `_` is emphasis only at a word's edge; snake_case stays as it is.
_UNDERSCORE = lazy(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# A `<` not followed by a space, digit, `=`, `<` or `-` could start an autolink, a mail link, a tag.
_ANGLE = lazy(r"<(?=[^\s\d=<-])")
_REFERENCE = lazy(r"&(?=#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
# At the start of a list item or a quote: a heading, quote, list or numbered-list marker.
_BLOCK_START = lazy(r"^(#|>|[-+](?=\s)|\d+[.)](?=\s))")
# Embeddings and overrides (U+202A-U+202E), isolates (U+2066-U+2069), the marks LRM, RLM and
# ALM. The email and Slack renderers drop them too (`without_bidi_controls`).
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_BIDI = lazy(f"[{_BIDI_CONTROLS}]")
_CONTROL = lazy(f"[\\x00-\\x1f\\x7f{_BIDI_CONTROLS}]")
# Any character reference (`&#8238;`, `&#x202E;`, `&rlm;`): in markdown it is the character.
_ANY_REFERENCE = lazy(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_UNESCAPE = lazy(r"\\([\\`*_{}\[\]()>#+\-.!|])|&lt;|&amp;")
# Markdown's backslash escapes (Python-Markdown's set); a code span and a fence line keep theirs.
_BACKSLASH = lazy(r"\\([\\`*_{}\[\]()>#+\-.!|])")
_CODE_SPAN = lazy(r"(?<!\\)`[^`\n]+`")
_FENCE = lazy(r"^\s*```")
# What an autolink `<url>` can hold and stay one link to that exact URL, in email and Slack.
_AUTOLINKABLE = lazy(r"https?://[^\s\x00-\x1f\x7f<>`\\]+", re.IGNORECASE)


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces, control and bidi characters dropped."""
    return _CONTROL.sub("", " ".join(text.split()))


def without_bidi_controls(markdown: str) -> str:
    """`markdown` without bidi controls, as characters or as character references; all else kept."""

    def unless_bidi(match: re.Match[str]) -> str:
        return "" if _BIDI.fullmatch(html.unescape(match.group(0))) else match.group(0)

    # Until nothing changes: dropping one can join two pieces into another (`&#82&#8238;38;`).
    while True:
        cleaned = _ANY_REFERENCE.sub(unless_bidi, _BIDI.sub("", markdown))
        if cleaned == markdown:
            return cleaned
        markdown = cleaned


def as_text(text: str) -> str:
    """`text` on one line, escaped so that markdown shows it as text."""
    text = one_line(text)
    text = _REFERENCE.sub("&amp;", text)
    text = _ALWAYS.sub(r"\\\1", text)
    text = _UNDERSCORE.sub(r"\\_", text)
    text = _ANGLE.sub("&lt;", text)
    return _BLOCK_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text)


def as_link(url: str) -> str:
    """An http(s) URL from the snapshot as an autolink; anything else only as text."""
    return f"<{url}>" if _AUTOLINKABLE.fullmatch(url) else as_text(url)


def unescape(markdown: str) -> str:
    """Markdown text back to the characters it shows (backslash escapes, `&lt;`, `&amp;`)."""

    def plain(match: re.Match[str]) -> str:
        return match.group(1) or {"&lt;": "<", "&amp;": "&"}[match.group(0)]

    return _UNESCAPE.sub(plain, markdown)


def shown_text(markdown: str, *, backslashes: bool = True) -> str:
    """`markdown` as plain text shows it: backslash escapes and character references resolved
    (`&lt;` is `<`, `\\[` is `[`) outside code, where they are literal; the rest (headings,
    bullets, link syntax) kept. For a text/plain reader: nothing there renders, so the resolved
    `<`, `&` and brackets stay text. A reference to a control or bidi character is dropped.
    `backslashes` False resolves the references only: the text stays markdown whose `\\[` is
    no link, for a receiver that escapes `&<>` itself (the webhook)."""

    def reference(match: re.Match[str]) -> str:
        character = html.unescape(match.group(0))
        return "" if _CONTROL.search(character) else character

    def prose(text: str) -> str:
        # One pass each, so `&amp;lt;` is the text `&lt;`, never `<`.
        return _ANY_REFERENCE.sub(reference, _BACKSLASH.sub(r"\1", text) if backslashes else text)

    lines: list[str] = []
    in_fence = False
    for line in markdown.split("\n"):
        fence = bool(_FENCE.match(line))
        in_fence ^= fence
        if fence or in_fence:
            lines.append(line)
            continue
        pieces: list[str] = []
        end = 0
        for code in _CODE_SPAN.finditer(line):
            pieces += [prose(line[end : code.start()]), code.group(0)]
            end = code.end()
        lines.append("".join([*pieces, prose(line[end:])]))
    return "\n".join(lines)

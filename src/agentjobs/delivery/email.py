"""Email delivery over the SMTP provider's SmtpHook: text/plain plus HTML rendered from markdown.

`SmtpHook.send_email_smtp` builds a single text/html part inside a multipart of the given
subtype, so it cannot send a text+HTML alternative; it also retries `sendmail` up to
`retry_limit` times, which can duplicate a mail the server already accepted. So the hook
opens, authenticates and closes the connection (TLS, login, OAuth2 as configured), and the
message is built here and sent once on the hook's client.
"""

from __future__ import annotations

import re
import smtplib
import xml.etree.ElementTree as etree
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from typing import Any, cast

import markdown as md
from markdown.treeprocessors import Treeprocessor

from agentjobs.jobs.addresses import is_plain_address
from agentjobs.jobs.markdown_text import one_line, shown_text, without_bidi_controls

HTML_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body>
{body}
</body></html>
"""


# A literal http:// or https:// prefix: no entity, control character or case trick can make
# the browser read another scheme (javascript:, data:, vbscript:) into it.
_WEB_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# No attr_list (`{: onclick=...}`), md_in_html, abbr or footnotes: nothing the text can turn
# into an attribute or a link that is not an http(s) URL.
_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


def render_html(text: str, title: str = "") -> str:
    """Markdown → HTML in which the text can only be text, links to http(s) URLs and formatting.

    The digest holds text from sources and from a model that read them; nothing in it may
    become live HTML in someone's mailbox: raw HTML is shown as text, images (tracking pixels)
    become their alt text, links to anything but http(s) become their text, and no element
    carries an attribute other than a link's href.
    """
    return HTML_TEMPLATE.format(title=escape(title), body=safe_html_fragment(text))


def safe_html_fragment(text: str) -> str:
    """The body of `render_html`: the same inert HTML, for a page that has its own frame (the UI)."""
    converter = md.Markdown(extensions=_EXTENSIONS, output_format="html")
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    # After "unescape" (priority 0): hrefs and alt texts are final when checked.
    converter.treeprocessors.register(_SafeTree(converter), "safe_tree", -10)
    # Bidi controls are invisible and reorder what the reader sees (U+202E + `cod.exe` as `exe.doc`).
    return converter.convert(_short_lines(without_bidi_controls(_CONTROL.sub("", text))))


# Python-Markdown's inline patterns take time growing faster than a line's length (a 100 KB line
# of a hostile commit subject: 1.7 s; 1 MB: two minutes of a worker, for each mail and page view).
MAX_HTML_LINE = 20_000


def _short_lines(text: str) -> str:
    """Each line at most MAX_HTML_LINE characters in the HTML (the text part keeps them whole)."""
    if len(text) <= MAX_HTML_LINE:
        return text
    return "\n".join(
        line if len(line) <= MAX_HTML_LINE else line[:MAX_HTML_LINE] + " … (line cut: too long to show)"
        for line in text.split("\n")
    )


class _SafeTree(Treeprocessor):
    """Images become their alt text, links to anything but http(s) a bare span, and no
    element keeps an attribute but a link's href."""

    def run(self, root: etree.Element) -> None:
        for parent in list(root.iter()):
            for index, child in reversed(list(enumerate(parent))):
                if child.tag == "img":
                    _replace_with_text(parent, index, child.get("alt") or "")
                elif child.tag == "a" and not _WEB_URL.fullmatch(child.get("href") or ""):
                    child.tag = "span"
        for element in root.iter():
            href = element.get("href") if element.tag == "a" else None
            element.attrib.clear()
            if href is not None:
                element.set("href", href)


def _replace_with_text(parent: etree.Element, index: int, text: str) -> None:
    """Put `text` (and the element's tail) where parent[index] was."""
    child = parent[index]
    joined = text + (child.tail or "")
    if index > 0:
        before = parent[index - 1]
        before.tail = (before.tail or "") + joined
    else:
        parent.text = (parent.text or "") + joined
    parent.remove(child)


def build_message(*, sender: str, to: Sequence[str], subject: str, markdown: str) -> EmailMessage:
    # The text part and the subject show the characters too (the HTML drops them in render_html).
    # The subject one line: a line break from a source (a team or feed name) is no new header,
    # and the email package refuses one outright, which would fail the mail.
    markdown, subject = without_bidi_controls(markdown), one_line(without_bidi_controls(subject))
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # text/plain first: clients show the last part they can render. Plain text renders nothing,
    # so it shows the characters the HTML part shows (`<`, not the markdown's `&lt;`).
    msg.set_content(shown_text(markdown))
    msg.add_alternative(render_html(markdown, title=subject), subtype="html")
    return msg


def send_email(
    *,
    smtp_conn_id: str,
    to: Sequence[str],
    subject: str,
    markdown: str,
    from_email: str | None = None,
) -> dict[str, Any]:
    """Send the digest; receipt {"message_id", "recipients", "refused"}."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    if not to:
        raise ValueError("send_email needs at least one recipient")
    # Recipients also come from database rows: a CR/LF or display name must not reach the To header.
    for address in to:
        if not is_plain_address(address):
            raise ValueError(
                f"recipient {address!r} is not a plain email address (no display name, spaces, CR or LF); "
                "fix the address where it comes from"
            )
    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        sender = from_email or hook.from_email
        if not sender:
            raise ValueError(f"No sender: pass from_email or set extra.from_email on {smtp_conn_id!r}")
        msg = build_message(sender=sender, to=to, subject=subject, markdown=markdown)
        # The hook exposes its connected client only as `_smtp_client` (smtplib.SMTP[_SSL]).
        client = cast("smtplib.SMTP", hook._smtp_client)
        refused = client.send_message(msg, from_addr=sender, to_addrs=list(to))
    return {"message_id": msg["Message-ID"], "recipients": list(to), "refused": sorted(refused)}

"""Email delivery over the SMTP provider's SmtpHook: text/plain markdown plus rendered HTML.

`SmtpHook.send_email_smtp` builds a single text/html part inside a multipart of the given
subtype, so it cannot send a text+HTML alternative; it also retries `sendmail` up to
`retry_limit` times, which can duplicate a mail the server already accepted. So the hook
opens, authenticates and closes the connection (TLS, login, OAuth2 as configured), and the
message is built here and sent once on the hook's client.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from typing import Any, cast

import markdown as md

HTML_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body>
{body}
</body></html>
"""


def render_html(text: str, title: str = "") -> str:
    """Markdown → HTML, with raw HTML in the markdown shown as text, never interpreted.

    The digest is written by a model from untrusted sources; markup it passes through must not
    become live HTML (tracking pixels, forms) in someone's mailbox.
    """
    converter = md.Markdown(extensions=["extra", "sane_lists"], output_format="html")
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    return HTML_TEMPLATE.format(title=escape(title), body=converter.convert(text))


def build_message(*, sender: str, to: Sequence[str], subject: str, markdown: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(markdown)  # text/plain first: clients show the last part they can render
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
    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        sender = from_email or hook.from_email
        if not sender:
            raise ValueError(f"No sender: pass from_email or set extra.from_email on {smtp_conn_id!r}")
        msg = build_message(sender=sender, to=to, subject=subject, markdown=markdown)
        # The hook exposes its connected client only as `_smtp_client` (smtplib.SMTP[_SSL]).
        client = cast("smtplib.SMTP", hook._smtp_client)
        refused = client.send_message(msg, from_addr=sender, to_addrs=list(to))
    return {"message_id": msg["Message-ID"], "recipients": list(to), "refused": sorted(refused)}

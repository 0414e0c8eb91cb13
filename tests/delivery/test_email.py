"""Email through SmtpHook to an aiosmtpd server on loopback, behind the ledger."""

from __future__ import annotations

import email
from email import policy

import pytest

from agentjobs.delivery import deliver, send_email
from agentjobs.delivery.email import build_message, render_html
from agentjobs.jobs.markdown_text import as_text
from tests.delivery.conftest import DIGEST
from tests.delivery.inert import BIDI_CONTROLS, assert_inert_html

TO = ["alice@example.test", "bob@example.test"]


def _send(smtp_server, ledger, artifact, *, force: bool = False, run_id: str = "run-1"):
    return deliver(
        ledger=ledger,
        job="daily_digest",
        logical_date="2026-11-24",
        run_id=run_id,
        channel="email",
        target=",".join(TO),
        artifact=artifact,
        force=force,
        send=lambda: send_email(
            smtp_conn_id=smtp_server.conn_id,
            to=TO,
            subject="Daily digest 2026-11-24",
            markdown=artifact.read_text(),
        ),
    )


def test_email_has_text_and_rendered_html(smtp_server, ledger, artifact):
    outcome = _send(smtp_server, ledger, artifact)
    assert outcome.delivered and outcome.attempt == 1

    [envelope] = smtp_server.messages
    assert envelope.mail_from == "digest@agentjobs.test"
    assert envelope.rcpt_tos == TO
    msg = email.message_from_bytes(envelope.content, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Subject"] == "Daily digest 2026-11-24"
    assert msg["Message-ID"] == outcome.receipt["message_id"]
    assert msg["Message-ID"].endswith("@agentjobs.test>")

    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    plain = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain == DIGEST
    html = msg.get_body(("html",)).get_content()
    assert "<h1>Daily digest 2026-11-24</h1>" in html
    assert "<strong>agentjobs</strong>" in html and "<em>delivery</em>" in html
    assert '<a href="https://github.com/example/agentjobs/commit/abc1234">abc1234</a>' in html
    assert "<li>" in html and "<code>budget</code>" in html
    # Raw HTML in the model-written markdown is shown, never interpreted.
    assert "&lt;b&gt;markup&lt;/b&gt;" in html and "<b>markup</b>" not in html

    assert outcome.receipt == {"message_id": msg["Message-ID"], "recipients": TO, "refused": []}


@pytest.mark.parametrize(
    "address", ["m@example.org\n", "m@example.org\r\nBcc: all@example.org", "Ada <ada@example.org>"]
)
def test_a_recipient_that_is_not_one_plain_address_is_refused_before_any_mail(smtp_server, address):
    # A member's address from a database row with a trailing newline ended the headers after To:
    # and the member got the raw MIME parts as text.
    refused = r"is not a plain email address \(no display name, spaces, CR or LF\)"
    with pytest.raises(ValueError, match=refused):
        send_email(smtp_conn_id=smtp_server.conn_id, to=[TO[0], address], subject="Reminder", markdown="Hi")
    assert smtp_server.messages == []


def test_second_delivery_is_skipped_and_force_sends_again(smtp_server, ledger, artifact):
    _send(smtp_server, ledger, artifact)
    skipped = _send(smtp_server, ledger, artifact, run_id="run-2")
    assert not skipped.delivered
    assert skipped.message.startswith("skipped: already delivered at ")
    assert skipped.message.endswith("trigger with force_redeliver=true to send it again")  # the way out
    assert len(smtp_server.messages) == 1

    forced = _send(smtp_server, ledger, artifact, force=True, run_id="run-3")
    assert forced.delivered and forced.attempt == 2
    assert len(smtp_server.messages) == 2
    first, second = (email.message_from_bytes(e.content)["Message-ID"] for e in smtp_server.messages)
    assert first != second
    rows = ledger.history(job="daily_digest", logical_date="2026-11-24", channel="email")
    assert [(r.attempt, r.status, r.forced) for r in rows] == [(1, "sent", False), (2, "sent", True)]


def test_unreachable_server_marks_failed_then_a_later_try_delivers(
    smtp_server, ledger, artifact, monkeypatch
):
    from tests.delivery.conftest import _free_port, set_connection

    good = smtp_server.conn_id
    dead = {"conn_type": "smtp", "host": "127.0.0.1", "port": _free_port(), "password": "s3cr3t-pw"}
    dead["extra"] = {"disable_ssl": True, "disable_tls": True, "retry_limit": 0, "from_email": "d@x.test"}
    smtp_server.conn_id = set_connection(monkeypatch, "smtp_dead", dead)
    with pytest.raises(Exception, match=r"(?i)refused|connect"):
        _send(smtp_server, ledger, artifact)

    smtp_server.conn_id = good
    outcome = _send(smtp_server, ledger, artifact, run_id="run-2")
    assert outcome.delivered and outcome.attempt == 2
    rows = ledger.history(job="daily_digest", logical_date="2026-11-24")
    assert [r.status for r in rows] == ["failed", "sent"]
    assert "s3cr3t-pw" not in rows[0].error
    assert len(smtp_server.messages) == 1


# --- Hostile text: sources and the model that read them write this markdown ---------------


HOSTILE = [
    "[Advisory](javascript:alert(document.cookie))",
    "[x](JaVaScRiPt:alert(1)) [y](&#106;avascript:alert(1)) [z]( javascript:alert(1))",
    "[pdf](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[v](vbscript:msgbox) <ftp://files.test/x> <a@b.test>",
    "[ref][1]\n\n[1]: javascript:alert(1)",
    "![](https://track.test/pixel.gif?u=alice) seen",
    "![logo](data:image/png;base64,iVBORw0KGgo=)",
    'Release notes {: onclick="alert(1)" }',
    '*urgent*{: onmouseover=alert(1) style="position:fixed" }',
    "## Heading {: #x onclick=alert(1) }",
    "<img src=x onerror=alert(1)> <svg onload=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "*[HTML]: Hyper <b>Text</b>\n\nHTML here",
    "note[^1]\n\n[^1]: javascript:alert(1)",
    "x\x005\x00y \x02wzxhzdk:0\x03",
    # Bidi controls, raw and as references: `cod.exe` would show as `exe.doc`.
    "Invoice \u202ecod.exe [\u202etxt.exe](https://x.test/\u2067a) &#8238;fdp.exe &#x202E;x &rlm;y"
    "\n\n# \u2066T\u2069",
]


@pytest.mark.parametrize("markdown", HOSTILE)
def test_hostile_markdown_renders_inert_html(markdown):
    assert_inert_html(render_html(markdown))


def test_bidi_controls_reach_neither_part_nor_the_subject_whoever_wrote_the_markdown():
    markdown = "# Invoice \u202ecod.exe\n\n- \u2066paid\u2069 &#8238;fdp.exe, and &amp;#8238; as text\n"
    message = build_message(
        sender="a@example.org", to=["b@example.org"], subject="Due: \u202ecod.exe", markdown=markdown
    )
    html = message.get_body(("html",)).get_content()
    assert_inert_html(html)
    assert "<h1>Invoice cod.exe</h1>" in html and "<li>paid fdp.exe, and &amp;#8238; as text</li>" in html
    plain = message.get_body(("plain",)).get_content()
    assert not BIDI_CONTROLS.search(plain)
    # The text `&#8238;` the markdown spelled `&amp;#8238;`: shown as typed, never resolved.
    assert "- paid fdp.exe, and &#8238; as text" in plain
    assert message["Subject"] == "Due: cod.exe"


def test_bad_links_and_images_keep_their_text_and_good_links_stay():
    html = render_html(
        "[Advisory](javascript:alert(1)) ![tracking pixel](https://t.test/p.gif) "
        "[the PR](https://github.com/acme/app/pull/7) <https://blog.example.org/post>"
    )
    assert "Advisory" in html and "tracking pixel" in html
    assert "javascript" not in html and "t.test" not in html
    assert '<a href="https://github.com/acme/app/pull/7">the PR</a>' in html
    assert '<a href="https://blog.example.org/post">https://blog.example.org/post</a>' in html
    assert_inert_html(html)


def test_attribute_lists_are_shown_as_text():
    html = render_html('## Heading {: onclick="alert(1)" }\n\n*urgent*{: onmouseover=alert(1) }')
    # Inside element text a quote is no markup: the brace lists are simply shown.
    assert '<h2>Heading {: onclick="alert(1)" }</h2>' in html
    assert "<p><em>urgent</em>{: onmouseover=alert(1) }</p>" in html


def test_the_text_part_shows_the_characters_the_text_had_not_their_escapes():
    # Source text is escaped for markdown (`<` as `&lt;`, `[` as `\\[`): the HTML part shows the
    # characters, and so must the text part, where nothing renders them.
    typed = ["AT&T &amp; R&D", "Vec<T> and <script>", "[WIP] *draft* 1 < 2", "\\* back\\slash"]
    markdown = "# Digest\n\n" + "".join(f"- {as_text(t)}\n" for t in typed) + "- `a &lt; b` in code\n"
    message = build_message(sender="a@example.org", to=["b@example.org"], subject="D", markdown=markdown)
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain == "# Digest\n\n" + "".join(f"- {t}\n" for t in typed) + "- `a &lt; b` in code\n"
    html = message.get_body(("html",)).get_content()
    assert "<li>Vec&lt;T&gt; and &lt;script&gt;</li>" in html and "<script>" not in html
    assert_inert_html(html)


def test_a_reference_to_a_control_character_is_not_put_into_the_text_part():
    markdown = "Bell&#7; escape&#x1b;[31m red &#0; end\n"
    message = build_message(sender="a@example.org", to=["b@example.org"], subject="D", markdown=markdown)
    plain = message.get_body(("plain",)).get_content()
    # `&#0;` is U+FFFD, as the HTML part shows it; the bell and the escape are dropped.
    assert plain.replace("\r\n", "\n") == "Bell escape[31m red \ufffd end\n"


def test_a_subject_with_line_breaks_is_one_line_and_adds_no_header():
    """A feed or team name in the subject holding CR/LF: the mail is built (not refused) and no
    `Bcc:` smuggled in through it becomes a header."""
    message = build_message(
        sender="agentjobs@example.org",
        to=["team@example.org"],
        subject="Digest — Feed\r\nBcc: victim@example.com\n, 2026-11-24",
        markdown="hello",
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Digest — Feed Bcc: victim@example.com , 2026-11-24"
    assert parsed["Bcc"] is None


def test_a_line_of_a_megabyte_renders_in_a_moment_cut_and_inert():
    """A hostile commit subject of 1 MB took Python-Markdown two minutes per mail (and per UI
    page view); the HTML shows the start of such a line and says it was cut, the text part all."""
    import time

    raw = ("word 12 [x](javascript:1) <!channel> *a* _b_ " * 25_000)[:1_000_000].strip()
    line = as_text(raw)
    markdown = f"# Digest\n\n- {line}\n- the next line\n"
    started = time.monotonic()
    html = render_html(markdown, title="Digest")
    assert time.monotonic() - started < 5
    assert "line cut: too long to show" in html and "the next line" in html
    assert_inert_html(html)
    message = build_message(sender="a@example.org", to=["b@example.org"], subject="Digest", markdown=markdown)
    assert raw in message.get_body(("plain",)).get_content()

"""The email channel: the spec's subject template filled with the job's title and day, sent to the
spec's recipients over its SMTP connection (the aiosmtpd server on loopback), and alerts the same way."""

from __future__ import annotations

import email
from email import policy

from agentjobs.delivery.channels.base import Message
from agentjobs.delivery.channels.registry import channel_for
from agentjobs.jobs.channels.email import EmailChannel
from tests.delivery.conftest import DIGEST


def message(artifact) -> Message:
    return Message(
        job="daily_digest",
        day="2026-11-24",
        title="Daily digest — 2026-11-24",
        job_title="Daily digest",
        markdown=DIGEST,
        artifact=artifact,
    )


def test_the_subject_is_the_spec_template_and_the_mail_goes_to_every_recipient(smtp_server, artifact):
    spec = EmailChannel(
        type="email",
        conn_id=smtp_server.conn_id,
        to=["team@example.org", "lead@example.org"],
        subject="[{title}] for {day}",
    )
    channel = channel_for(spec)
    assert channel.render(message(artifact)) == "[Daily digest] for 2026-11-24"
    assert channel.target("daily_digest", "2026-11-24") == "lead@example.org,team@example.org"
    receipt = channel.send(message(artifact))
    [envelope] = smtp_server.messages
    assert envelope.rcpt_tos == ["team@example.org", "lead@example.org"]
    mail = email.message_from_bytes(envelope.content, policy=policy.default)
    assert mail["Subject"] == "[Daily digest] for 2026-11-24"
    assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n") == DIGEST
    assert receipt["recipients"] == ["team@example.org", "lead@example.org"]


def test_an_alert_goes_to_the_same_recipients_under_its_own_subject(smtp_server):
    spec = EmailChannel(type="email", conn_id=smtp_server.conn_id, to=["oncall@example.org"])
    channel_for(spec, alerting=True).alert("daily_digest failed", "summarize: HTTP 401")
    [envelope] = smtp_server.messages
    mail = email.message_from_bytes(envelope.content, policy=policy.default)
    assert envelope.rcpt_tos == ["oncall@example.org"] and mail["Subject"] == "daily_digest failed"
    assert "summarize: HTTP 401" in mail.get_body(("plain",)).get_content()

"""`type: email`: its recipients and subject as the spec writes them, its ledger target and alert key."""

from __future__ import annotations

import pydantic
import pytest

from agentjobs.jobs.channels.email import EmailChannel


def test_the_defaults_send_through_smtp_default_with_the_title_and_day_as_subject():
    channel = EmailChannel(type="email", to=["team@example.org"])
    assert channel.conn_id == "smtp_default"
    assert channel.subject.format(title="Daily digest", day="2026-11-24") == "Daily digest — 2026-11-24"


def test_the_target_is_the_recipients_in_any_order_the_spec_lists_them():
    one = EmailChannel(type="email", to=["b@example.org", "a@example.org"])
    other = EmailChannel(type="email", to=["a@example.org", "b@example.org"])
    # Reordering the list in the spec is the same delivery: the ledger does not send it again.
    assert (
        one.target("job", "2026-11-24") == other.target("job", "2026-11-24") == "a@example.org,b@example.org"
    )


def test_the_alert_key_keeps_the_health_checks_earlier_spelling():
    channel = EmailChannel(type="email", conn_id="smtp_ops", to=["b@example.org", "a@example.org"])
    assert channel.alert_key() == "email:smtp_ops:['b@example.org', 'a@example.org']"
    assert EmailChannel.alerts


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"to": []}, "to"),
        ({"to": ["team@example.org", "Ops <ops@example.org>"]}, "to.1"),
        ({"to": ["team@example.org"], "subject": "{title}\r\nBcc: all@example.org"}, "subject"),
        ({"to": ["team@example.org"], "subject": "{title.__class__}"}, "subject"),
        ({"to": ["team@example.org"], "cc": ["x@example.org"]}, "cc"),
    ],
)
def test_a_bad_recipient_or_subject_is_refused_at_its_field(fields, where):
    with pytest.raises(pydantic.ValidationError) as refused:
        EmailChannel(type="email", **fields)
    assert [".".join(map(str, e["loc"])) for e in refused.value.errors()] == [where]

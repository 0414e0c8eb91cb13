"""How a spec's channels load (jobs/channels/registry.py): a spec names only channels that code can
send, with their defaults, and fails at load otherwise; the ledger targets of the shipped channels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agentjobs.jobs.channels.registry import CHANNEL_TYPES
from agentjobs.jobs.spec import JobSpecError, load_spec

SPEC = {
    "dag_id": "webhook_digest",
    "title": "Daily digest",
    "start_date": "2026-11-01",
    "skill": "daily-digest",
    "sources": {"rss": {"feeds": ["feed.xml"]}},
}


def write(tmp_path: Path, **fields: Any) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **fields}))
    return path


def test_a_webhook_channel_loads_from_a_spec_with_its_defaults(tmp_path):
    spec = load_spec(write(tmp_path, channels=[{"type": "webhook", "conn_id": "reports_hook"}]))
    (channel,) = spec.channels
    assert channel.type == "webhook" and channel.endpoint == "/"
    assert channel.target(spec.dag_id, "2026-11-24") == "reports_hook:/"


def test_a_channel_type_no_code_can_send_fails_at_load_listing_those_that_can(tmp_path):
    with pytest.raises(JobSpecError) as broken:
        load_spec(write(tmp_path, channels=[{"type": "teams", "conn_id": "x"}]))
    message = str(broken.value)
    assert "field 'channels.0'" in message
    for known in ("email", "slack", "s3", "webhook"):
        assert f"'{known}'" in message


def test_an_alert_channel_must_be_one_that_can_page(tmp_path):
    with pytest.raises(JobSpecError, match="field 'alert'"):
        load_spec(write(tmp_path, alert={"type": "s3", "bucket": "reports"}))
    spec = load_spec(write(tmp_path, alert={"type": "webhook", "conn_id": "pager", "endpoint": "/page"}))
    assert spec.alert is not None and spec.alert.type == "webhook"


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [("hooks/x", "starting with '/'"), ("/x?token=1", "no query"), ("/x\r\nHost: evil", "one line")],
)
def test_a_webhook_endpoint_is_a_plain_path(tmp_path, endpoint, why):
    with pytest.raises(JobSpecError, match=r"channels\.0\.webhook\.endpoint") as broken:
        load_spec(write(tmp_path, channels=[{"type": "webhook", "endpoint": endpoint}]))
    assert why in str(broken.value)


def test_the_existing_channels_keep_their_ledger_targets():
    email = CHANNEL_TYPES["email"].model_validate({"type": "email", "to": ["b@example.org", "a@example.org"]})
    slack = CHANNEL_TYPES["slack"].model_validate({"type": "slack", "channel": "C1"})
    webhook_slack = CHANNEL_TYPES["slack"].model_validate({"type": "slack", "conn_id": "hook"})
    s3 = CHANNEL_TYPES["s3"].model_validate({"type": "s3", "bucket": "acme-reports", "prefix": "/digests/"})
    assert email.target("job", "2026-11-24") == "a@example.org,b@example.org"
    assert slack.target("job", "2026-11-24") == "slack_default:C1"
    assert webhook_slack.target("job", "2026-11-24") == "hook:webhook"
    assert s3.target("job", "2026-11-24") == "s3://acme-reports/digests/job/2026-11-24.md"
    # The health check's per-channel ledger target, as it was written before channels were objects.
    assert email.alert_key() == "email:smtp_default:['b@example.org', 'a@example.org']"
    assert slack.alert_key() == "slack:slack_default:C1" and webhook_slack.alert_key() == "slack:hook:[]"


@pytest.mark.parametrize("where", ["channels", "alert"])
def test_an_unquoted_slack_channel_is_refused_with_the_quoted_form(tmp_path, where):
    # `channel: #digest` is `channel:` and a YAML comment: null. It loaded as "no channel", so an
    # API connection failed at delivery, after the model was paid, and an alert never paged.
    text = yaml.safe_dump(SPEC) + (
        "channels:\n  - type: slack\n    conn_id: slack_api\n    channel: #digest\n"
        if where == "channels"
        else "alert:\n  type: slack\n  channel: #digest-alerts\n"
    )
    path = tmp_path / "job.yaml"
    path.write_text(text)
    with pytest.raises(JobSpecError) as broken:
        load_spec(path)
    message = str(broken.value)
    field = "channels.0.slack.channel" if where == "channels" else "alert.slack.channel"
    assert f"field '{field}'" in message and 'channel: "#digest"' in message
    # Left out, the channel is the webhook connection's own (a slackwebhook connection needs none),
    # and the spec dumped and validated again (as `agentjobs run` adjusts one) still loads.
    spec = load_spec(write(tmp_path, channels=[{"type": "slack"}], alert={"type": "slack"}))
    assert spec.channels[0].channel is None
    assert type(spec).model_validate(spec.model_dump()).channels == spec.channels


def test_a_bucket_s3_would_refuse_fails_the_spec_at_load_naming_the_field(tmp_path):
    with pytest.raises(JobSpecError) as broken:
        load_spec(write(tmp_path, channels=[{"type": "s3", "bucket": "My_Bucket"}]))
    message = str(broken.value)
    assert "field 'channels.0.s3.bucket': 'My_Bucket' is not an S3 bucket name" in message

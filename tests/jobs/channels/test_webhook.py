"""`type: webhook`: an endpoint path that holds no credential (the ledger stores and logs it), a
bounded timeout, its ledger target and alert key. (Loading from a spec: test_registry_loading.py.)"""

from __future__ import annotations

import pydantic
import pytest

from agentjobs.jobs.channels.webhook import WebhookChannel


def test_the_defaults_post_to_the_connections_root_within_30_seconds():
    channel = WebhookChannel(type="webhook")
    assert (channel.conn_id, channel.endpoint, channel.timeout_s) == ("http_default", "/", 30)
    assert channel.target("job", "2026-11-24") == "http_default:/"


def test_the_target_and_alert_key_name_the_connection_and_the_endpoint():
    channel = WebhookChannel(type="webhook", conn_id="reports_webhook", endpoint="/hooks/digest")
    assert channel.target("job", "2026-11-24") == "reports_webhook:/hooks/digest"
    assert channel.alert_key() == "webhook:reports_webhook:/hooks/digest"
    assert WebhookChannel.alerts


@pytest.mark.parametrize(
    "endpoint",
    [
        "hooks/digest",
        "https://example.org/hook",
        "/hook?token=s3cret",
        "/hook#token=s3cret",
        "/user:s3cret@hook",
        "",
    ],
)
def test_an_endpoint_that_is_not_a_plain_path_is_refused_saying_where_credentials_go(endpoint):
    with pytest.raises(pydantic.ValidationError) as refused:
        WebhookChannel(type="webhook", endpoint=endpoint)
    message = str(refused.value)
    assert f"{endpoint!r} is not an endpoint path; write one like /hooks/digest" in message
    assert "no credentials: put those in the connection" in message


def test_an_endpoint_over_two_lines_is_refused():
    with pytest.raises(pydantic.ValidationError, match="must be one line"):
        WebhookChannel(type="webhook", endpoint="/hook\r\nX-Injected: 1")


@pytest.mark.parametrize("timeout", [0, -1, 301, float("inf")])
def test_a_timeout_outside_0_to_300_seconds_is_refused(timeout):
    with pytest.raises(pydantic.ValidationError, match="timeout_s"):
        WebhookChannel(type="webhook", timeout_s=timeout)
    assert WebhookChannel(type="webhook", timeout_s=300).timeout_s == 300

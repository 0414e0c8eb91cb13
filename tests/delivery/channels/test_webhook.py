"""The webhook channel against a loopback receiver: one JSON POST per delivery through the
ledger, inert text, no secret in an error, and the destination checked before anything is sent."""

from __future__ import annotations

import hashlib
import html
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from agentjobs.agent.errors import PermanentAgentError
from agentjobs.delivery import deliver
from agentjobs.delivery.channels.base import Message
from agentjobs.delivery.channels.registry import channel_for
from agentjobs.delivery.channels.webhook import WebhookFailed
from agentjobs.delivery.ledger import FAILED, SENT
from agentjobs.jobs.channels.registry import channel_of
from agentjobs.jobs.markdown_text import as_text
from tests.delivery.conftest import WEBHOOK_HEADER_TOKEN, WEBHOOK_PATH_TOKEN, set_connection


def webhook(conn_id: str, endpoint: str = "/digest"):
    return channel_for(channel_of({"type": "webhook", "conn_id": conn_id, "endpoint": endpoint}))


def message(artifact: Path) -> Message:
    title = "Daily digest — 2026-11-24"
    return Message("digest_job", "2026-11-24", title, "Daily digest", artifact.read_text(), artifact)


def key_of(webhook_server) -> dict[str, str]:
    target = f"{webhook_server.conn_id}:/digest"
    return {"job": "digest_job", "logical_date": "2026-11-24", "channel": "webhook", "target": target}


def send_through_ledger(ledger, channel, artifact: Path, force: bool = False):
    return deliver(
        ledger=ledger,
        job="digest_job",
        logical_date="2026-11-24",
        run_id="run-1",
        channel=channel.type,
        target=channel.target("digest_job", "2026-11-24"),
        artifact=artifact,
        force=force,
        send=lambda: channel.send(message(artifact)),
    )


def test_a_delivery_is_one_json_post_with_the_connections_headers_and_is_not_sent_twice(
    webhook_server, ledger, artifact
):
    channel = webhook(webhook_server.conn_id)
    first = send_through_ledger(ledger, channel, artifact)
    again = send_through_ledger(ledger, channel, artifact)

    (post,) = webhook_server.server.posts
    assert post.path == f"/hooks/{WEBHOOK_PATH_TOKEN}/digest"
    assert post.headers["content-type"] == "application/json"
    assert post.headers["authorization"] == WEBHOOK_HEADER_TOKEN
    assert post.body["job"] == "digest_job" and post.body["day"] == "2026-11-24"
    assert post.body["title"] == "Daily digest — 2026-11-24"
    assert post.body["sha256"] == hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert "Three things happened in **agentjobs** today." in post.body["text"]
    assert first.delivered and first.receipt["status"] == 200
    assert post.headers["idempotency-key"] == first.receipt["idempotency_key"]
    assert not again.delivered and "skipped: already delivered" in again.message
    # The ledger key names the connection and the endpoint, never the URL's secret path.
    (row,) = ledger.history(**key_of(webhook_server))
    assert row.status == SENT and WEBHOOK_PATH_TOKEN not in row.target


def test_a_forced_redelivery_posts_again_with_the_same_idempotency_key(webhook_server, ledger, artifact):
    channel = webhook(webhook_server.conn_id)
    send_through_ledger(ledger, channel, artifact)
    forced = send_through_ledger(ledger, channel, artifact, force=True)
    first, second = webhook_server.server.posts
    assert forced.delivered and forced.attempt == 2
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


def test_markup_from_sources_arrives_as_text_never_as_tags(webhook_server, tmp_path):
    hostile = tmp_path / "digest.md"
    hostile.write_text(
        "# Day\n\nRaw <img src=x onerror=alert(1)> & <b>bold</b>\u202etxt.exe\x07\n\n- tab\there\n"
    )
    webhook(webhook_server.conn_id).send(message(hostile))
    (post,) = webhook_server.server.posts
    text = post.body["text"]
    assert "<" not in text and ">" not in text.replace("&gt;", "")
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in text
    assert "\u202e" not in text and "\x07" not in text
    assert "tab\there" in text and text.startswith("# Day\n\n")


def test_source_text_escaped_for_markdown_arrives_escaped_once(webhook_server, tmp_path):
    # `<` is `&lt;` in the markdown already: escaped again it showed as `&lt;` in the receiver's HTML.
    typed = "Vec<T> & R&amp;D <script>"
    artifact = tmp_path / "digest.md"
    artifact.write_text(f"# Day\n\n- {as_text(typed)} `a &lt; b`\n")
    webhook(webhook_server.conn_id).send(message(artifact))
    (post,) = webhook_server.server.posts
    text = post.body["text"]
    assert "<" not in text and html.unescape(text) == f"# Day\n\n- {typed} `a &lt; b`\n"


def test_a_server_error_fails_the_attempt_and_the_retry_posts_once_more(webhook_server, ledger, artifact):
    channel = webhook(webhook_server.conn_id)
    webhook_server.server.fail_next(503)
    with pytest.raises(Exception) as failed:
        send_through_ledger(ledger, channel, artifact)
    assert not isinstance(failed.value, PermanentAgentError)  # transient: the task retries
    assert "HTTP 503" in str(failed.value) and WEBHOOK_PATH_TOKEN not in str(failed.value)

    retried = send_through_ledger(ledger, channel, artifact)
    assert retried.delivered and retried.attempt == 2
    assert len(webhook_server.server.posts) == 2
    rows = ledger.history(**key_of(webhook_server))
    assert [r.status for r in rows] == [FAILED, SENT]
    for row in rows:
        error = row.error or ""
        assert WEBHOOK_PATH_TOKEN not in error and "planted-response-secret" not in error


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_refusal_is_permanent_and_names_no_secret(webhook_server, artifact, status):
    webhook_server.server.fail_next(status)
    with pytest.raises(PermanentAgentError) as refused:
        webhook(webhook_server.conn_id).send(message(artifact))
    text = str(refused.value)
    assert f"HTTP {status}" in text
    for secret in (WEBHOOK_PATH_TOKEN, WEBHOOK_HEADER_TOKEN, "planted-response-secret"):
        assert secret not in text


def test_a_redirect_is_not_followed(webhook_server, artifact):
    webhook_server.server.fail_next(302, {"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(PermanentAgentError, match="redirect, not followed"):
        webhook(webhook_server.conn_id).send(message(artifact))
    assert len(webhook_server.server.posts) == 1


def test_a_host_name_that_resolves_to_a_private_address_is_refused_before_sending(
    webhook_server, monkeypatch, artifact
):
    port = webhook_server.server.port
    conn = {"conn_type": "http", "host": f"http://localhost:{port}"}
    conn_id = set_connection(monkeypatch, "webhook_named", conn)
    with pytest.raises(PermanentAgentError, match="loopback"):
        webhook(conn_id).send(message(artifact))
    assert webhook_server.server.posts == []


def test_nothing_listens_is_a_transient_failure_without_the_url(monkeypatch, artifact):
    conn = {"conn_type": "http", "host": f"http://127.0.0.1:9/hooks/{WEBHOOK_PATH_TOKEN}"}
    conn_id = set_connection(monkeypatch, "webhook_down", conn)
    with pytest.raises(Exception) as failed:
        webhook(conn_id).send(message(artifact))
    assert not isinstance(failed.value, PermanentAgentError)
    assert WEBHOOK_PATH_TOKEN not in str(failed.value) and failed.value.__cause__ is None


def test_the_connections_path_is_masked_where_the_hook_logs_the_url(monkeypatch, artifact):
    from airflow.sdk._shared.secrets_masker import redact

    token = f"path-token-{uuid.uuid4().hex}"  # its own: the masker is process-wide
    conn = {"conn_type": "http", "host": f"http://127.0.0.1:9/{token}"}
    conn_id = set_connection(monkeypatch, "webhook_masked", conn)
    with pytest.raises(WebhookFailed):
        webhook(conn_id).send(message(artifact))
    # What HttpHook logs when nothing answers ("Sending 'POST' to url: ...", requests' error).
    logged = f"Max retries exceeded with url: /{token}/digest (Caused by NewConnectionError)"
    assert token not in str(redact(logged))


def test_a_connection_with_srv_lookup_is_refused_before_anything_is_sent(monkeypatch, artifact):
    conn = {"conn_type": "http", "host": "_hooks._tcp.example.org", "extra": {"srv_lookup": True}}
    conn_id = set_connection(monkeypatch, "webhook_srv", conn)
    with pytest.raises(PermanentAgentError, match="srv_lookup"):
        webhook(conn_id).send(message(artifact))


def test_a_failure_alert_through_a_webhook_carries_no_secret(webhook_server):
    from agentjobs.notifications.alert import JobAlertNotifier

    planted = "upstream said: sk-proj-" + "a1B2c3D4" * 4 + " <script>x</script>"
    notifier = JobAlertNotifier(
        channel={"type": "webhook", "conn_id": webhook_server.conn_id, "endpoint": "/alerts"},
        job_title="Daily digest",
    )
    notifier.notify(
        {
            "ti": SimpleNamespace(dag_id="daily_digest", task_id="summarize", try_number=1),
            "dag_run": SimpleNamespace(dag_id="daily_digest", run_id="scheduled__2026-11-25"),
            "logical_date": datetime(2026, 11, 25, 3, 0, tzinfo=UTC),
            "exception": RuntimeError(planted),
        }
    )
    (post,) = webhook_server.server.posts
    assert post.path.endswith("/alerts")
    assert "daily_digest" in post.body["title"] and "summarize failed" in post.body["title"]
    assert "RuntimeError" in post.body["text"] and "sk-proj-" + "a1B2c3D4" not in post.body["text"]
    assert "<script>" not in post.body["text"]

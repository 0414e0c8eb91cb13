"""Slack through SlackWebhookHook and SlackHook against the loopback fake, behind the ledger."""

from __future__ import annotations

import threading

import pytest

from agentjobs.delivery import DeliveryConflict, deliver, send_slack
from agentjobs.delivery.slack_blocks import MAX_BLOCKS, MAX_SECTION_CHARS
from tests.delivery.inert import assert_inert_slack, assert_no_bidi_controls
from tests.fakes.slack import WEBHOOK_PATH


def _deliver(ledger, artifact, conn_id, *, target="#digest", force=False, run_id="run-1", **kwargs):
    return deliver(
        ledger=ledger,
        job="daily_digest",
        logical_date="2026-11-24",
        run_id=run_id,
        channel="slack",
        target=target,
        artifact=artifact,
        force=force,
        send=lambda: send_slack(
            slack_conn_id=conn_id, markdown=artifact.read_text(), channel=target, **kwargs
        ),
    )


def _section_text(blocks) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


def _long_markdown(paragraphs: int) -> str:
    return "# Long digest\n\n" + "\n\n".join(f"## Item {i}\n\n" + "word " * 700 for i in range(paragraphs))


def test_webhook_receives_the_blocks(slack_server, ledger, artifact):
    outcome = _deliver(ledger, artifact, slack_server.webhook_conn_id, target="webhook")
    assert outcome.delivered
    assert outcome.receipt == {"mode": "webhook", "status": 200, "blocks": 6, "complete": True}

    [req] = slack_server.server.calls(WEBHOOK_PATH)
    body = req.params
    assert body["text"] == "Daily digest 2026-11-24"
    blocks = body["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "header", "section", "divider", "section"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Daily digest 2026-11-24", "emoji": True},
    }
    text = _section_text(blocks)
    assert "*agentjobs*" in text and "_delivery_" in text
    assert "• <https://github.com/example/agentjobs/commit/abc1234|abc1234>" in text
    assert "`budget` rounding &amp; &lt;edge&gt; cases" in text
    assert {"type": "divider"} in blocks


def test_webhook_second_delivery_skipped_force_sends_again(slack_server, ledger, artifact):
    conn = slack_server.webhook_conn_id
    _deliver(ledger, artifact, conn, target="webhook")
    skipped = _deliver(ledger, artifact, conn, target="webhook", run_id="run-2")
    assert not skipped.delivered and "skipped: already delivered at" in skipped.message
    assert "'mode': 'webhook'" in skipped.message and skipped.receipt["status"] == 200
    assert len(slack_server.server.calls(WEBHOOK_PATH)) == 1

    forced = _deliver(ledger, artifact, conn, target="webhook", force=True, run_id="run-3")
    assert forced.delivered and forced.attempt == 2
    assert len(slack_server.server.calls(WEBHOOK_PATH)) == 2
    assert len(ledger.history(job="daily_digest", logical_date="2026-11-24")) == 2


def test_webhook_error_marks_failed_without_the_url(slack_server, ledger, artifact):
    slack_server.server.fail_next(WEBHOOK_PATH, 500, "internal_error")
    with pytest.raises(Exception, match="Status Code: 500"):
        _deliver(ledger, artifact, slack_server.webhook_conn_id, target="webhook")
    [row] = ledger.history(job="daily_digest", logical_date="2026-11-24")
    assert row.status == "failed" and "500" in row.error and "webhooksecret" not in row.error

    again = _deliver(ledger, artifact, slack_server.webhook_conn_id, target="webhook", run_id="run-2")
    assert again.delivered and again.attempt == 2


def test_webhook_cuts_what_does_not_fit(slack_server, ledger, artifact):
    artifact.write_text(_long_markdown(60))
    outcome = _deliver(ledger, artifact, slack_server.webhook_conn_id, target="webhook")
    assert outcome.receipt["complete"] is False
    blocks = slack_server.server.calls(WEBHOOK_PATH)[0].params["blocks"]
    assert len(blocks) == MAX_BLOCKS and blocks[-1]["type"] == "context"


def test_api_posts_message_with_blocks(slack_server, ledger, artifact):
    outcome = _deliver(ledger, artifact, slack_server.api_conn_id)
    assert outcome.receipt == {"mode": "message", "channel": "C0DIGEST1", "ts": "1700000000.000001"}
    [req] = slack_server.server.calls("/api/chat.postMessage")
    assert req.headers["authorization"].startswith("Bearer xoxb-")
    assert req.params["channel"] == "#digest" and req.params["text"] == "Daily digest 2026-11-24"
    assert "*agentjobs*" in _section_text(req.params["blocks"])
    assert "xoxb" not in str(outcome.receipt) and "xoxb" not in outcome.message


def test_api_force_can_edit_the_message_in_place(slack_server, ledger, artifact):
    conn = slack_server.api_conn_id
    first = _deliver(ledger, artifact, conn)
    previous = ledger.last_receipt(
        job="daily_digest", logical_date="2026-11-24", channel="slack", target="#digest"
    )
    assert previous == first.receipt
    artifact.write_text(artifact.read_text() + "\nCorrection: one more thing.\n")

    skipped = _deliver(ledger, artifact, conn, run_id="run-2")
    assert "the artifact changed since" in skipped.message
    edited = _deliver(ledger, artifact, conn, force=True, run_id="run-3", replace=previous)
    assert edited.receipt == {"mode": "update", "channel": "C0DIGEST1", "ts": first.receipt["ts"]}
    [update] = slack_server.server.calls("/api/chat.update")
    assert update.params["ts"] == first.receipt["ts"] and "Correction" in _section_text(
        update.params["blocks"]
    )
    assert len(slack_server.server.calls("/api/chat.postMessage")) == 1


def test_api_long_markdown_goes_as_a_file(slack_server, ledger, artifact):
    long = _long_markdown(60)
    artifact.write_text(long)
    outcome = _deliver(ledger, artifact, slack_server.api_conn_id, target="C0DIGEST1")
    server = slack_server.server
    assert not server.calls("/api/chat.postMessage")
    [url_req] = server.calls("/api/files.getUploadURLExternal")
    assert url_req.params["filename"] == "digest.md" and int(url_req.params["length"]) == len(long.encode())
    [complete] = server.calls("/api/files.completeUploadExternal")
    assert complete.params["channel_id"] == "C0DIGEST1"
    assert complete.params["initial_comment"] == "Long digest"
    file_id = outcome.receipt["file_id"]
    assert server.uploads[file_id] == long.encode()
    assert outcome.receipt == {"mode": "file", "channel": "C0DIGEST1", "file_id": file_id}


def test_no_bidi_control_reaches_slack_in_a_message_or_a_file(slack_server, ledger, artifact):
    # U+202E would show `cod.exe` as `exe.doc`; the markdown here was not written by a kind.
    hostile = "# Invoice \u202ecod.exe\n\nPay \u2066\u202etxt.exe\u2069 &#8238;now\n\n"
    artifact.write_text(hostile)
    _deliver(ledger, artifact, slack_server.webhook_conn_id, target="webhook")
    [hook] = slack_server.server.calls(WEBHOOK_PATH)
    assert_inert_slack(hook.params["blocks"])
    assert hook.params["text"] == "Invoice cod.exe"
    assert _section_text(hook.params["blocks"]) == "Pay txt.exe now"

    artifact.write_text(hostile + _long_markdown(60))
    outcome = _deliver(ledger, artifact, slack_server.api_conn_id, target="C0DIGEST1")
    uploaded = slack_server.server.uploads[outcome.receipt["file_id"]].decode()
    assert_no_bidi_controls(uploaded)
    assert uploaded.startswith("# Invoice cod.exe\n\nPay txt.exe now\n\n")
    [complete] = slack_server.server.calls("/api/files.completeUploadExternal")
    assert complete.params["initial_comment"] == "Invoice cod.exe"


def test_api_error_is_raised_and_recorded(slack_server, ledger, artifact):
    slack_server.server.fail_next("/api/chat.postMessage", 200, {"ok": False, "error": "channel_not_found"})
    with pytest.raises(Exception, match="channel_not_found"):
        _deliver(ledger, artifact, slack_server.api_conn_id)
    [row] = ledger.history(job="daily_digest", logical_date="2026-11-24")
    assert row.status == "failed" and "channel_not_found" in row.error and "xoxb" not in row.error


def test_crash_between_send_and_record_blocks_until_forced(slack_server, ledger, artifact):
    from agentjobs.delivery import DeliveryStateUnknown

    ledger.claim(
        job="daily_digest",
        logical_date="2026-11-24",
        channel="slack",
        target="#digest",
        run_id="run-crashed",
        content_sha256="0" * 64,
        force=False,
    )
    with pytest.raises(DeliveryStateUnknown, match="force_redeliver=true"):
        _deliver(ledger, artifact, slack_server.api_conn_id, run_id="run-2")
    assert not slack_server.server.requests

    forced = _deliver(ledger, artifact, slack_server.api_conn_id, force=True, run_id="run-3")
    assert forced.delivered and forced.attempt == 2
    assert len(slack_server.server.calls("/api/chat.postMessage")) == 1


def test_concurrent_deliveries_post_once(slack_server, pg_ledger, artifact):
    """Two workers deliver the same key at once on PostgreSQL: Slack sees one message."""
    both_read = threading.Barrier(2, timeout=10)
    newest = pg_ledger._newest

    def newest_then_wait(conn, key):
        row = newest(conn, key)
        both_read.wait()
        return row

    pg_ledger._newest = newest_then_wait
    results: list[object] = []

    def worker(n: int) -> None:
        try:
            results.append(_deliver(pg_ledger, artifact, slack_server.api_conn_id, run_id=f"run-{n}"))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(type(r).__name__ for r in results) == ["DeliveryConflict", "DeliveryOutcome"]
    assert any(isinstance(r, DeliveryConflict) for r in results)
    assert len(slack_server.server.calls("/api/chat.postMessage")) == 1


def test_connection_type_decides(slack_server, monkeypatch):
    from tests.delivery.conftest import set_connection

    set_connection(monkeypatch, "slack_http", {"conn_type": "http", "host": "127.0.0.1"})
    with pytest.raises(ValueError, match="'slackwebhook' or 'slack'"):
        send_slack(slack_conn_id="slack_http", markdown="x")
    with pytest.raises(ValueError, match="needs a channel"):
        send_slack(slack_conn_id=slack_server.api_conn_id, markdown="x")


def test_sections_stay_within_limits(slack_server):
    send_slack(slack_conn_id=slack_server.webhook_conn_id, markdown="# T\n\n" + "x" * 7000)
    blocks = slack_server.server.calls(WEBHOOK_PATH)[0].params["blocks"]
    assert all(len(b["text"]["text"]) <= MAX_SECTION_CHARS for b in blocks if b["type"] == "section")
    assert sum(len(b["text"]["text"]) for b in blocks if b["type"] == "section") == 7000


def test_api_file_upload_to_a_channel_name(slack_server, ledger, artifact):
    artifact.write_text(_long_markdown(60))
    with pytest.warns(UserWarning, match="Channel ID"):
        outcome = _deliver(ledger, artifact, slack_server.api_conn_id, target="#digest")
    assert outcome.receipt["mode"] == "file"
    assert slack_server.server.calls("/api/conversations.list")
    [complete] = slack_server.server.calls("/api/files.completeUploadExternal")
    assert complete.params["channel_id"] == "C0DIGEST1"

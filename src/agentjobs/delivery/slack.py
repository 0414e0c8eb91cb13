"""Slack delivery on the Slack provider's hooks, chosen by the connection's conn_type.

- `slackwebhook` (Incoming Webhook): SlackWebhookHook.send(text=, blocks=). A webhook posts
  to the channel fixed by the Slack app and answers only "ok", so the receipt has no ts, and
  a digest too long for 50 blocks is cut (the last block says so).
- `slack` (API token): SlackHook.call("chat.postMessage") to `channel`; receipt {"channel",
  "ts"}. Too long for blocks → the markdown is uploaded as a file with send_file_v2. Given an
  earlier receipt (`replace`), the message is edited in place with chat.update instead.
"""

from __future__ import annotations

from typing import Any

from agentjobs.delivery.slack_blocks import fallback_text, fit_blocks
from agentjobs.jobs.markdown_text import without_bidi_controls

WEBHOOK, API = "slackwebhook", "slack"


def send_slack(
    *,
    slack_conn_id: str,
    markdown: str,
    channel: str | None = None,
    title: str | None = None,
    filename: str = "digest.md",
    replace: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Post the digest with whichever hook the connection is for; returns the receipt."""
    from airflow.sdk.bases.hook import BaseHook

    conn_type = BaseHook.get_connection(slack_conn_id).conn_type
    if conn_type == WEBHOOK:
        return _send_webhook(slack_conn_id, markdown, title)
    if conn_type == API:
        if not channel:
            raise ValueError(f"Slack API connection {slack_conn_id!r} needs a channel to post to")
        return _send_api(slack_conn_id, markdown, channel, title, filename, replace)
    raise ValueError(
        f"Connection {slack_conn_id!r} has conn_type {conn_type!r}; use 'slackwebhook' or 'slack'"
    )


def _send_webhook(conn_id: str, markdown: str, title: str | None) -> dict[str, Any]:
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    blocks, complete = fit_blocks(markdown, title=title)
    # send() raises AirflowException on any status but 200 (check_webhook_response).
    response = SlackWebhookHook(slack_webhook_conn_id=conn_id).send(
        text=fallback_text(markdown, title=title), blocks=blocks
    )
    return {"mode": "webhook", "status": response.status_code, "blocks": len(blocks), "complete": complete}


def _send_api(
    conn_id: str,
    markdown: str,
    channel: str,
    title: str | None,
    filename: str,
    replace: dict[str, Any] | None,
) -> dict[str, Any]:
    from airflow.providers.slack.hooks.slack import SlackHook

    hook = SlackHook(slack_conn_id=conn_id)
    text = fallback_text(markdown, title=title)
    blocks, complete = fit_blocks(markdown, title=title)
    if not complete:
        # send_file_v2 wants a channel id; a '#name' is looked up by the hook (conversations.list).
        response = hook.send_file_v2(
            channel_id=channel,
            # The blocks drop bidi controls (slack_blocks._clean); the file shows its text as is.
            file_uploads={
                "content": without_bidi_controls(markdown),
                "filename": filename,
                "title": text[:250],
            },
            initial_comment=text,
        )
        file_id = response["files"][0]["id"] if response.get("files") else None
        return {"mode": "file", "channel": channel, "file_id": file_id}
    # SlackApiError (ok: false) propagates from the SDK; a 200 here means Slack stored the message.
    if replace and replace.get("ts") and replace.get("channel"):
        payload = {"channel": replace["channel"], "ts": replace["ts"], "text": text, "blocks": blocks}
        response = hook.call("chat.update", json=payload)
        return {"mode": "update", "channel": response["channel"], "ts": response["ts"]}
    payload = {"channel": channel, "text": text, "blocks": blocks, "unfurl_links": False}
    response = hook.call("chat.postMessage", json=payload)
    return {"mode": "message", "channel": response["channel"], "ts": response["ts"]}

"""Webhook: the artifact as one JSON POST through the HTTP provider's HttpHook.

The body is `{"job", "day", "title", "text", "sha256"}`. `text` is the artifact with control
and bidi characters dropped and `&`, `<`, `>` escaped once (the markdown's own `&lt;` for a
source's `<` is resolved first), so a receiver that puts it into HTML or a chat card shows the
source's text, never its tags. The same delivery always carries the same
`Idempotency-Key` header, so a receiver that honours it drops the second copy of a retry whose
first answer was lost.

Guarded like every outbound request: the URL is checked before anything is sent (http or
https, no credentials in it; a host name must resolve to public addresses only, an IP literal
is the address the operator chose, loopback included, as in agent/http_policy.py; no SRV
lookup, whose targets the hook would pick after the check), redirects are not followed, one
timeout bounds the call, and no error message carries the URL or the answer's body (the
connection's path or headers may hold the token; the path is masked in the task's log too, where
the hook itself logs the URL). A 3xx, or a 4xx other than 408 and 429, or a refused URL is
permanent; a 5xx, 408, 429 or network error is retried by the task, and the ledger resends only
what was not sent.
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import Any
from urllib.parse import urlsplit

from agentjobs.agent.errors import PermanentAgentError
from agentjobs.delivery.channels.base import Channel, Message
from agentjobs.jobs.channels.webhook import WebhookChannel
from agentjobs.jobs.markdown_text import one_line, shown_text, without_bidi_controls

_RETRIED_4XX = frozenset({408, 429})
_TRUE = frozenset({"true", "t", "1", "yes", "y", "on"})


class WebhookRefused(PermanentAgentError):
    """The webhook refused the post, or its URL is not one we may post to: a retry fails again."""


class WebhookFailed(Exception):
    """The post failed in a way a later try may not (5xx, 408, 429, network)."""


def inert(text: str) -> str:
    """`text` as data: no control or bidi characters but newline and tab, `&`, `<`, `>` escaped."""
    kept = "".join(ch for ch in text if ch in "\n\t" or not (ord(ch) < 0x20 or ord(ch) == 0x7F))
    return html.escape(without_bidi_controls(kept), quote=False)


class WebhookSender(Channel[WebhookChannel]):
    spec_model = WebhookChannel

    def render(self, message: Message) -> dict[str, Any]:
        return {
            "job": message.job,
            "day": message.day,
            "title": inert(one_line(message.title)),
            # The markdown's own `&lt;` is `<` first, so the text is escaped once, not twice.
            "text": inert(shown_text(message.markdown, backslashes=False)),
            "sha256": hashlib.sha256(message.markdown.encode("utf-8")).hexdigest(),
        }

    def send(self, message: Message) -> dict[str, Any]:
        payload = self.render(message)
        where = self.target(message.job, message.day)
        named = f"{message.job}\n{message.day}\n{where}\n{payload['sha256']}"
        key = hashlib.sha256(named.encode()).hexdigest()
        status = self.post(payload, key)
        return {"status": status, "sha256": payload["sha256"], "idempotency_key": key}

    def alert(self, subject: str, body: str) -> None:
        payload = {"title": inert(one_line(subject)), "text": inert(body)}
        self.post(payload, hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest())

    def post(self, payload: dict[str, Any], idempotency_key: str) -> int:
        """POST `payload` once; the response's status, or WebhookRefused / WebhookFailed."""
        import requests
        from airflow.providers.http.hooks.http import HttpHook

        conn_id, endpoint = self.spec.conn_id, self.spec.endpoint
        hook = HttpHook(method="POST", http_conn_id=conn_id)
        if str(hook.get_connection(conn_id).extra_dejson.get("srv_lookup", "")).lower() in _TRUE:
            raise WebhookRefused(f"webhook {conn_id!r}: srv_lookup is not supported; name the host")
        try:
            url = hook.url_from_endpoint(endpoint)  # the connection's URL, as `run` builds it
        except ValueError:
            raise WebhookRefused(f"webhook {conn_id!r}: the connection's URL is malformed") from None
        check_url(url, conn_id)
        _mask_path(url, endpoint)
        try:
            response = hook.run(
                endpoint,
                json=payload,
                headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
                # Ours, not the connection's extra: the hook lets passed options win.
                extra_options={
                    "check_response": False,
                    "allow_redirects": False,
                    "timeout": self.spec.timeout_s,
                },
            )
        except requests.RequestException as exc:
            # Not `exc` itself: requests quotes the URL, and its path may be the token.
            raise WebhookFailed(f"webhook {conn_id!r}: {type(exc).__name__}, nothing answered") from None
        status = int(response.status_code)
        response.close()
        if 200 <= status < 300:
            return status
        what = f"webhook {conn_id!r} answered HTTP {status}"
        if 300 <= status < 400:
            raise WebhookRefused(f"{what} (a redirect, not followed); point the connection at the final URL")
        if 400 <= status < 500 and status not in _RETRIED_4XX:
            raise WebhookRefused(f"{what}; fix the connection or the receiver, a retry would fail again")
        raise WebhookFailed(f"{what}; the task's retry sends it again")


def check_url(url: str, conn_id: str) -> None:
    """WebhookRefused unless `url` may be posted to (see the module's docstring)."""
    from agentjobs.agent.errors import PermissionDenied
    from agentjobs.agent.guarded_http import parse_http_url, public_address
    from agentjobs.agent.http_policy import ip_literal

    try:
        if "@" in urlsplit(url).netloc:
            raise PermissionDenied("credentials in the URL are not allowed; put them in the connection")
        _scheme, host, port = parse_http_url(url)
        if not ip_literal(host):
            public_address(url, host, port)
    except PermissionDenied as exc:
        # The reason without the URL ("URL '<url>' refused: <reason>"): its path may hold the token.
        reason = str(exc).split(" refused: ", 1)[-1].replace(url, "<url>")
        raise WebhookRefused(f"webhook {conn_id!r}: {reason}") from None


def _mask_path(url: str, endpoint: str) -> None:
    """Mask the connection's part of the URL's path in the task's log: the hook logs the URL
    when a connection fails, and a receiver's token often sits there."""
    path = urlsplit(url).path
    secret = path[: len(path) - len(endpoint)] if endpoint != "/" and path.endswith(endpoint) else path
    if secret.strip("/"):
        from airflow.sdk.log import mask_secret

        mask_secret(secret)


CHANNEL = WebhookSender

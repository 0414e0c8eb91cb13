"""Webhook: the artifact as one JSON POST through the HTTP provider's HttpHook.

    channels:
      - type: webhook
        conn_id: reports_webhook   # an `http` connection: scheme, host, port; headers in extra
        endpoint: /hooks/digest    # appended to the connection's URL

The body is `{"job", "day", "title", "text", "sha256"}`. `text` is the artifact with control
and bidi characters dropped and `&`, `<`, `>` escaped, so a receiver that puts it into HTML or a
chat card shows text, never tags from a source. The same delivery always carries the same
`Idempotency-Key` header, so a receiver that honours it drops the second copy of a retry whose
first answer was lost.

Guarded like every outbound request: the URL is checked before anything is sent (http or
https, no credentials in it; a host name must resolve to public addresses only, an IP literal
is the address the operator chose, loopback included, as in agent/http_policy.py), redirects
are not followed, one timeout bounds the call, and no error message carries the URL or the
answer's body (the connection's path or headers may hold the token). A 4xx other than 408
and 429 (or a refused URL) is permanent; a 5xx, 408, 429 or network error is retried by the
task, and the ledger resends only what was not sent.
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from agentjobs.agent.errors import PermanentAgentError
from agentjobs.delivery.channels.base import ChannelSpec, Message
from agentjobs.jobs.addresses import one_line as _one_line_check
from agentjobs.jobs.markdown_text import one_line, without_bidi_controls

_RETRIED_4XX = frozenset({408, 429})


class WebhookRefused(PermanentAgentError):
    """The webhook refused the post, or its URL is not one we may post to: a retry fails again."""


class WebhookFailed(Exception):
    """The post failed in a way a later try may not (5xx, 408, 429, network)."""


def _path(value: str) -> str:
    if not value.startswith("/") or "?" in value or "#" in value or "@" in value:
        raise ValueError(
            f"{value!r} is not an endpoint path; write one like /hooks/digest "
            "(starting with '/', no query, and no credentials: put those in the connection)"
        )
    return value


def inert(text: str) -> str:
    """`text` as data: no control or bidi characters but newline and tab, `&`, `<`, `>` escaped."""
    kept = "".join(ch for ch in text if ch in "\n\t" or not (ord(ch) < 0x20 or ord(ch) == 0x7F))
    return html.escape(without_bidi_controls(kept), quote=False)


class WebhookChannel(ChannelSpec):
    type: Literal["webhook"]
    conn_id: str = "http_default"
    endpoint: Annotated[str, AfterValidator(_one_line_check), AfterValidator(_path)] = "/"
    timeout_s: float = Field(30, gt=0, le=300)

    alerts: ClassVar[bool] = True

    def target(self, job: str, day: str) -> str:
        return f"{self.conn_id}:{self.endpoint}"

    def render(self, message: Message) -> dict[str, Any]:
        return {
            "job": message.job,
            "day": message.day,
            "title": inert(one_line(message.title)),
            "text": inert(message.markdown),
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

    def alert_key(self) -> str:
        return f"webhook:{self.conn_id}:{self.endpoint}"

    def post(self, payload: dict[str, Any], idempotency_key: str) -> int:
        """POST `payload` once; the response's status, or WebhookRefused / WebhookFailed."""
        import requests
        from airflow.providers.http.hooks.http import HttpHook

        hook = HttpHook(method="POST", http_conn_id=self.conn_id)
        hook.get_conn()  # sets base_url from the connection
        check_url(hook.url_from_endpoint(self.endpoint), self.conn_id)
        try:
            response = hook.run(
                self.endpoint,
                json=payload,
                headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
                extra_options={"check_response": False, "allow_redirects": False, "timeout": self.timeout_s},
            )
        except requests.RequestException as exc:
            # Not `exc` itself: requests quotes the URL, and its path may be the token.
            raise WebhookFailed(f"webhook {self.conn_id!r}: {type(exc).__name__}, nothing answered") from None
        status = int(response.status_code)
        if 200 <= status < 300:
            return status
        what = f"webhook {self.conn_id!r} answered HTTP {status}"
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

    where = f"webhook {conn_id!r}"
    try:
        if "@" in urlsplit(url).netloc:
            raise PermissionDenied("credentials in the URL are not allowed; put them in the connection")
        scheme, host, port = parse_http_url(url)
        if not ip_literal(host):
            public_address(url, host, port)
    except PermissionDenied as exc:
        # The reason without the URL: its path may hold the token.
        reason = str(exc).replace(url, "<url>")
        raise WebhookRefused(f"{where}: {reason}") from None


CHANNEL = WebhookChannel

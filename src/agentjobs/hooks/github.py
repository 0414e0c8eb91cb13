"""The GitHub source's connection: the token in *password*, an API URL (GitHub Enterprise) in *host*."""

from __future__ import annotations

import logging

from airflow.sdk.bases.hook import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

log = logging.getLogger(__name__)
DEFAULT_API_URL = "https://api.github.com"


def github_settings(conn_id: str) -> tuple[str | None, str]:
    """(token, api_url) from the connection; no connection means anonymous access to public repos."""
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.warning(
            "No connection %r: fetching GitHub anonymously (public repositories, 60 requests an hour). "
            "Add a connection with a token in its password to raise the limit.",
            conn_id,
        )
        return None, DEFAULT_API_URL
    host = (conn.host or "").strip()
    if host and not host.startswith(("http://", "https://")):
        host = f"https://{host}"
    return (conn.password or None), (host.rstrip("/") or DEFAULT_API_URL)

"""GitHubHook: the GitHub source's connection, as the Slack provider's hooks own theirs.

A `github` connection (the official GitHub provider's type, so one connection serves both):
the token in *password*, an API URL in *host* for GitHub Enterprise (default api.github.com).
The source itself speaks REST with httpx (sources/github.py); the hook only says where and how
to authenticate, and never puts the token in a message.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.bases.hook import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

log = logging.getLogger(__name__)
DEFAULT_API_URL = "https://api.github.com"


class GitHubHook(BaseHook):
    conn_name_attr = "github_conn_id"
    default_conn_name = "github_default"
    conn_type = "github"
    hook_name = "GitHub (agentjobs source)"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port", "login", "extra"],
            "relabeling": {"host": "GitHub Enterprise API URL (optional)", "password": "Token"},
            "placeholders": {"host": DEFAULT_API_URL, "password": "github_pat_..."},
        }

    def __init__(self, github_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.github_conn_id = github_conn_id

    def get_conn(self) -> tuple[str | None, str]:
        """(token, api_url); no connection means anonymous access to public repositories."""
        try:
            conn = self.get_connection(self.github_conn_id)
        except AirflowNotFoundException:
            log.warning(
                "No connection %r: fetching GitHub anonymously (public repositories, 60 requests an "
                "hour). Add a `github` connection with a token in its password to raise the limit.",
                self.github_conn_id,
            )
            return None, DEFAULT_API_URL
        host = (conn.host or "").strip()
        if host and not host.startswith(("http://", "https://")):
            host = f"https://{host}"
        return (conn.password or None), (host.rstrip("/") or DEFAULT_API_URL)


def github_settings(conn_id: str) -> tuple[str | None, str]:
    """(token, api_url) of `conn_id` through GitHubHook."""
    return GitHubHook(conn_id).get_conn()

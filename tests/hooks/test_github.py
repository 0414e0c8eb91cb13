"""GitHubHook: where the GitHub source fetches from and with which token, from a `github` connection."""

from __future__ import annotations

import json
import logging

import pytest

from agentjobs.hooks.github import DEFAULT_API_URL, GitHubHook


def test_a_token_and_an_enterprise_host_without_a_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "github", "host": "ghe.example.org/api/v3/", "password": "github_pat_planted"}
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_TEST", json.dumps(conn))
    assert GitHubHook("github_test").get_conn() == ("github_pat_planted", "https://ghe.example.org/api/v3")


def test_no_connection_fetches_anonymously_and_says_how_to_add_a_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert GitHubHook("github_absent").get_conn() == (None, DEFAULT_API_URL)
    assert "github_absent" in caplog.text and "token" in caplog.text


def test_the_provider_declares_the_hook() -> None:
    from agentjobs import get_provider_info

    modules = [m for hook in get_provider_info()["hooks"] for m in hook["python-modules"]]
    assert "agentjobs.hooks.github" in modules
    assert GitHubHook.conn_type == "github" and GitHubHook.conn_name_attr == "github_conn_id"

"""The UI app as the api-server mounts it, for the tests; a stand-in user where auth is not tested."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

PREFIX = "/agentjobs"


def admin():
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return SimpleAuthManagerUser(username="admin", role="ADMIN")


def client(user=None) -> TestClient:
    """The plugin's app mounted as the api-server mounts it; `user` stands in for the login."""
    from airflow.api_fastapi.core_api.security import get_user

    from agentjobs.ui.app import app
    from agentjobs.ui.plugin import AgentJobsUiPlugin

    (entry,) = AgentJobsUiPlugin.fastapi_apps
    root = FastAPI()
    root.mount(entry["url_prefix"], entry["app"])
    app.dependency_overrides.clear()
    if user is not None:
        app.dependency_overrides[get_user] = lambda: user
    return TestClient(root)

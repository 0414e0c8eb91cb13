"""The UI tests run real DAGs (dag.test) with the whole-DAG tests' fakes and read them back."""

import pytest

from tests.jobs.conftest import (  # noqa: F401
    _moto_endpoint,
    business_conn,
    business_db,
    github_api,
    llm_conn,
    s3_server,
    sample_db,
    slack_server,
    smtp_server,
)


@pytest.fixture
def auth_manager(monkeypatch):
    """The configured (simple) auth manager, as the api-server initializes it."""
    from airflow.api_fastapi import app as airflow_app

    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", None)
    manager = airflow_app.create_auth_manager()
    manager.init()
    return manager


@pytest.fixture(autouse=True)
def _no_overrides():
    yield
    from agentjobs.ui.app import app

    app.dependency_overrides.clear()

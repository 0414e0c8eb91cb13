"""Fixtures for tests that run DAGs with dag.test() on the SQLite metadata DB."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.fakes.model_server import ScriptedModelServer


@pytest.fixture
def llm_conn(model_server, monkeypatch, airflow_db) -> Iterator[str]:
    """An agentjobs_llm connection (from the environment) pointing at the scripted server."""
    conn_id = "agentjobs_llm_test"
    extra = {"model": "scripted-model", "prices": {"*": {"input": 1.0, "output": 4.0}}, "timeout": 10}
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "agentjobs_llm",
                "host": model_server.base_url,
                "password": "sk-test-planted-secret-0123456789",
                "extra": extra,
            }
        ),
    )
    yield conn_id


BACKUP_LLM_CONN_ID = "agentjobs_llm_backup"


@pytest.fixture
def backup_llm(monkeypatch, airflow_db) -> Iterator[ScriptedModelServer]:
    """A second scripted endpoint on its own connection (BACKUP_LLM_CONN_ID), with its own model
    (`backup-model`) and prices (10 / 40 USD per 1M tokens): a fallback for failover tests."""
    with ScriptedModelServer() as server:
        extra = {"model": "backup-model", "prices": {"*": {"input": 10.0, "output": 40.0}}, "timeout": 10}
        conn = {
            "conn_type": "agentjobs_llm",
            "host": server.base_url,
            "password": "sk-backup",
            "extra": extra,
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{BACKUP_LLM_CONN_ID.upper()}", json.dumps(conn))
        yield server


def xcom(dag_run, task_id: str, key: str = "return_value", map_index: int | None = None):
    """The deserialized XCom value a task (or one mapped instance of it) pushed in `dag_run`, or None."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key, map_indexes=map_index
        )
        rows = session.scalars(query).all()
        if not rows:
            return None
        return XComModel.deserialize_value(rows[0])


def run_dag(dag, **test_kwargs):
    """dag.test() for a DAG built inside a test (see agentjobs.dag_test)."""
    from agentjobs.dag_test import run_dag_once

    return run_dag_once(dag, **test_kwargs)

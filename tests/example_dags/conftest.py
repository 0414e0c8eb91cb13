"""The shipped example DAGs, each file run anew per test, against the scripted model server on
the connection they ask by default (agentjobs_llm_default)."""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agentjobs.example_dags
from agentjobs.hooks import DEFAULT_LLM_CONN_ID

EXAMPLES = Path(agentjobs.example_dags.__file__).parent


@pytest.fixture
def default_llm(model_server, monkeypatch, airflow_db) -> Iterator[str]:
    """The default LLM connection, pointing at the scripted server, with prices."""
    extra = {"model": "scripted-model", "prices": {"*": {"input": 1.0, "output": 4.0}}, "timeout": 10}
    conn = {
        "conn_type": "agentjobs_llm",
        "host": model_server.base_url,
        "password": "sk-test-example-secret-0123456789",
        "extra": extra,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{DEFAULT_LLM_CONN_ID.upper()}", json.dumps(conn))
    yield DEFAULT_LLM_CONN_ID


def example(name: str) -> dict[str, Any]:
    """The namespace of a fresh run of the example file `name`.py: its DAG, tools and models."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def tries(dag_run, task_id: str) -> int:
    return {ti.task_id: ti.try_number for ti in dag_run.get_task_instances()}[task_id]

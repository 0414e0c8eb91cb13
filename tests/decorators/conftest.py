"""Fixtures for the tests of src/agentjobs/decorators/: the LLM connection of tests/airflow/."""

from tests.airflow.conftest import llm_conn  # noqa: F401

"""Fixtures for the tests of src/agentjobs/operators/: the LLM connection of tests/airflow/, re-exported."""

from tests.airflow.conftest import llm_conn  # noqa: F401

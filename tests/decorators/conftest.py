"""Fixtures for the tests of src/agentjobs/decorators/: the LLM connections of tests/airflow/."""

from tests.airflow.conftest import backup_llm, llm_conn  # noqa: F401

"""Fixtures for the tests of src/agentjobs/operators/: the LLM connection of tests/airflow/ and the
SMTP and Slack fakes of tests/delivery/, re-exported."""

from tests.airflow.conftest import llm_conn  # noqa: F401
from tests.delivery.conftest import slack_server, smtp_server  # noqa: F401

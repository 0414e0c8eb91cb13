"""Fixtures for the tests of src/agentjobs/operators/: the LLM connection of tests/airflow/, the
SMTP and Slack fakes of tests/delivery/ and the installable test kinds of tests/kinds_plugin/,
re-exported."""

from tests.airflow.conftest import llm_conn  # noqa: F401
from tests.delivery.conftest import slack_server, smtp_server  # noqa: F401
from tests.kinds_plugin.fixtures import installed_kinds  # noqa: F401

"""Fixtures for the tests of src/agentjobs/operators/: the LLM connection of tests/airflow/, the
SMTP, Slack and S3 (moto) fakes of tests/delivery/ and the installable test kinds of
tests/kinds_plugin/, re-exported."""

from tests.airflow.conftest import backup_llm, llm_conn  # noqa: F401
from tests.delivery.conftest import _moto_endpoint, s3_server, slack_server, smtp_server  # noqa: F401
from tests.kinds_plugin.fixtures import installed_kinds  # noqa: F401

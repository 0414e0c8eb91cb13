"""Fixtures for whole-DAG tests: the delivery fakes (aiosmtpd, moto, Slack) and the LLM connection."""

from tests.airflow.conftest import llm_conn  # noqa: F401
from tests.business.fixtures import pg_schema, sample_db  # noqa: F401
from tests.delivery.conftest import _moto_endpoint, s3_server, slack_server, smtp_server  # noqa: F401
from tests.jobs.business import any_business_conn, business_conn, business_db, business_pg  # noqa: F401
from tests.jobs.specs import any_ledger  # noqa: F401
from tests.jobs.test_inputs import acme_db  # noqa: F401  (test_input_check.py uses it too)
from tests.kinds_plugin.fixtures import installed_kinds  # noqa: F401
from tests.sources.conftest import github_api  # noqa: F401

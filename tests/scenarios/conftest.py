"""Fixtures for the whole-DAG scenario tests: the same ones tests/jobs/conftest.py offers (delivery
fakes for aiosmtpd, moto, Slack; the LLM connection; the business databases; installed kinds; the
GitHub replay), plus the webhook receiver the digest's webhook scenario posts to, and a Ledgerly
database of the test's own."""

from tests.airflow.conftest import backup_llm, llm_conn  # noqa: F401
from tests.business.fixtures import sample_db  # noqa: F401
from tests.business.ledgerly.conftest import ledgerly  # noqa: F401
from tests.business.ledgerly.jobs import ledgerly_db  # noqa: F401
from tests.delivery.conftest import _moto_endpoint, s3_server, slack_server, smtp_server, webhook_server  # noqa: F401
from tests.jobs.business import any_business_conn, business_conn, business_db, business_pg  # noqa: F401
from tests.jobs.specs import any_ledger  # noqa: F401
from tests.kinds_plugin.fixtures import installed_kinds  # noqa: F401
from tests.sources.conftest import github_api  # noqa: F401

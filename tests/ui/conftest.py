"""The UI tests run a real digest DAG (dag.test) with the whole-DAG tests' fakes and read it back."""

from tests.jobs.conftest import (  # noqa: F401
    _moto_endpoint,
    github_api,
    llm_conn,
    s3_server,
    slack_server,
    smtp_server,
)

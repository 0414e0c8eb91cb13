"""Fixtures for the delivery tests: every fake is a real server on 127.0.0.1.

Connections reach the provider hooks as AIRFLOW_CONN_<ID> environment variables (JSON), the
way a deployment would set them. PostgreSQL tests use the server at 127.0.0.1:5432 (database
`test`, trust auth) in a schema of their own; without that server they skip, unless
AGENTJOBS_REQUIRE_SERVICES=1, where they fail.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.delivery.ledger import DeliveryLedger
from tests.fakes.slack import TOKEN, FakeSlack
from tests.fakes.webhook import FakeWebhook

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"

DIGEST = """# Daily digest 2026-11-24

Three things happened in **agentjobs** today.

## Commits

- [abc1234](https://github.com/example/agentjobs/commit/abc1234) Add the *delivery* ledger
- Fix `budget` rounding & <edge> cases

---

Raw <b>markup</b> stays text.
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn: dict[str, Any]) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    """<work dir>/digest.md with two snapshot files in <work dir>/sources/."""
    work = tmp_path / "work"
    (work / "sources").mkdir(parents=True)
    (work / "sources" / "github.json").write_text(json.dumps({"commits": [{"sha": "abc1234"}]}))
    (work / "sources" / "feeds.json").write_text(json.dumps({"entries": []}))
    path = work / "digest.md"
    path.write_bytes(DIGEST.encode())
    return path


# -- SMTP ------------------------------------------------------------------------------------


@dataclass
class SmtpFake:
    host: str
    port: int
    conn_id: str
    messages: list[Any] = field(default_factory=list)  # aiosmtpd Envelopes

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpFake]:
    from aiosmtpd.controller import Controller

    port = _free_port()
    extra = {
        "from_email": "digest@agentjobs.test",
        "disable_ssl": True,
        "disable_tls": True,
        "timeout": 10,
        "retry_limit": 0,
    }
    conn_id = set_connection(
        monkeypatch, "smtp_test", {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": extra}
    )
    fake = SmtpFake("127.0.0.1", port, conn_id)
    controller = Controller(fake, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield fake
    finally:
        controller.stop()


# -- S3 (moto) -------------------------------------------------------------------------------


@dataclass
class S3Fake:
    endpoint_url: str
    conn_id: str
    bucket: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )


@pytest.fixture(scope="session")
def _moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_server(_moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Fake:
    """The moto server, an `aws` connection pointing at it, and a fresh bucket."""
    # No real credentials or config files may leak in from the machine.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    conn = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": _moto_endpoint, "region_name": "us-east-1"},
    }
    fake = S3Fake(
        _moto_endpoint, set_connection(monkeypatch, "aws_test", conn), f"digests-{uuid.uuid4().hex[:8]}"
    )
    fake.client().create_bucket(Bucket=fake.bucket)
    return fake


# -- Slack -----------------------------------------------------------------------------------


@dataclass
class SlackFake:
    server: FakeSlack
    webhook_conn_id: str
    api_conn_id: str


@pytest.fixture
def slack_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackFake]:
    server = FakeSlack().start()
    webhook = set_connection(
        monkeypatch, "slack_webhook_test", {"conn_type": "slackwebhook", "password": server.webhook_url}
    )
    api = set_connection(
        monkeypatch,
        "slack_api_test",
        {"conn_type": "slack", "password": TOKEN, "extra": {"base_url": server.api_url, "timeout": 10}},
    )
    try:
        yield SlackFake(server, webhook, api)
    finally:
        server.stop()


# -- ledgers ---------------------------------------------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[DeliveryLedger]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}", connect_args={"timeout": 30})
    try:
        yield DeliveryLedger(engine)
    finally:
        engine.dispose()


def _services_required() -> bool:
    return os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1"


@pytest.fixture
def pg_ledger() -> Iterator[DeliveryLedger]:
    """A ledger in a schema of its own on the local PostgreSQL, dropped afterwards."""
    url = sa.make_url(PG_URL)
    try:
        admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except (sa.exc.OperationalError, ImportError) as exc:
        problem = str(getattr(exc, "orig", None) or exc).strip()
        reason = f"PostgreSQL not reachable at {url.host}:{url.port}: {problem}"
        if _services_required():
            pytest.fail(reason + " (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    schema = f"agentjobs_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = sa.create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield DeliveryLedger(engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_ledger(request: pytest.FixtureRequest) -> DeliveryLedger:
    """The same test on the SQLite and the PostgreSQL ledger."""
    return request.getfixturevalue("ledger" if request.param == "sqlite" else "pg_ledger")


# -- webhook ---------------------------------------------------------------------------------

# Where a receiver's token often sits: in the URL's path (set in the connection) and a header.
WEBHOOK_PATH_TOKEN = "T0KEN-in-the-path-5f3a9c"
WEBHOOK_HEADER_TOKEN = "Bearer planted-webhook-token-8e1d"


@dataclass
class WebhookFake:
    server: FakeWebhook
    conn_id: str


@pytest.fixture
def webhook_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookFake]:
    server = FakeWebhook().start()
    conn = {
        "conn_type": "http",
        "host": f"http://127.0.0.1:{server.port}/hooks/{WEBHOOK_PATH_TOKEN}",
        "extra": {"Authorization": WEBHOOK_HEADER_TOKEN},  # HttpHook sends extra as headers
    }
    try:
        yield WebhookFake(server, set_connection(monkeypatch, "webhook_test", conn))
    finally:
        server.stop()

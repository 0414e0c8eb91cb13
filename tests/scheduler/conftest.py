"""Session fixtures for tests against the real Airflow processes.

`airflow_cluster` starts api-server, scheduler, dag-processor and triggerer once per session
on a fresh PostgreSQL metadata DB (dropped afterwards). Every process gets the connections
of `scheduler_services` (loopback fakes: the scripted model, SMTP, S3, Slack, and a ledger
schema in the `test` database) plus `extra_scheduler_connections`, which a test package may
override to add its own before the cluster starts; later, `cluster.api.create_connection`.

Without PostgreSQL the tests skip with the reason, unless AGENTJOBS_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.delivery.conftest import S3Fake, SmtpFake, _moto_endpoint  # noqa: F401 (a fixture)
from tests.fakes.model_server import RecordedRequest, ScriptedModelServer, Step, error, reply, respond
from tests.fakes.slack import TOKEN, FakeSlack
from tests.scheduler.harness import (
    PG_ADMIN_URL,
    AirflowCluster,
    PostgresUnavailable,
    check_postgres,
    create_database,
    drop_database,
    free_port,
)

HERE = Path(__file__).resolve().parent
_CLUSTER: AirflowCluster | None = None  # the cluster of the running test, for its failure report
_STARTED: list[AirflowCluster] = []  # every cluster of the session, for the terminal summary


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "scheduler: runs the real Airflow processes (api-server, scheduler, dag-processor, "
        "triggerer) on a PostgreSQL metadata DB",
    )


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test here starts (or shares) the cluster: slow, and selectable with -m scheduler.
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.scheduler)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    # A failing test shows what the processes said, without anyone digging in a temp dir.
    if report.failed and _CLUSTER is not None and HERE in Path(str(item.path)).parents:
        for name in ("scheduler", "dag-processor", "api-server"):
            report.sections.append((f"airflow {name} log (tail)", _CLUSTER.log_tail(name, 60)))
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for cluster in _STARTED:
        m = cluster.measurements
        peaks = ", ".join(f"{name} {mb:.0f}" for name, mb in sorted(m.peak_pss_mb.items()))
        terminalreporter.write_sep("-", f"airflow cluster on {cluster.sql_alchemy_conn.split(':')[0]}")
        terminalreporter.write_line(
            f"start-up {m.startup_s or 0:.1f}s (db migrate {m.migrate_s or 0:.1f}s); "
            f"peak PSS MB over {m.samples} samples: {peaks}; peak total {m.peak_total_pss_mb:.0f} MB"
        )
        if m.stop_s is not None:
            killed = f"; SIGKILLed: {m.sigkilled}" if m.sigkilled else ""
            terminalreporter.write_line(f"stop {m.stop_s:.1f}s{killed}")
        if m.locked_db_refusals:
            terminalreporter.write_line(
                f"API requests refused for a locked SQLite DB and sent again: {m.locked_db_refusals}"
            )
        if m.phases:
            terminalreporter.write_line("phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in m.phases.items()))
        if cluster.home.exists():
            terminalreporter.write_line(f"kept for a post-mortem: {cluster.home} (process-logs/, logs/)")


def services_required() -> bool:
    return os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1"


def require_postgres() -> None:
    try:
        check_postgres()
    except PostgresUnavailable as exc:
        if services_required():
            pytest.fail(f"{exc} (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(str(exc))


# -- the scripted model ----------------------------------------------------------------------


def answer_structured(request: RecordedRequest) -> Step:
    """Any structured digest request: highlight the first two offered items, one action item.

    The refs come from the request's own schema enum, so the answer is valid for any day.
    """
    body = request.body or {}
    try:
        schema = body["response_format"]["json_schema"]["schema"]
        refs = schema["properties"]["highlights"]["items"]["properties"]["ref"]["enum"]
    except (KeyError, TypeError):
        return error(400, "the scheduler tests' model answers structured digest requests only")
    answer = {
        "highlights": [{"ref": ref, "takeaway": f"Worth a look: item {i}"} for i, ref in enumerate(refs[:2])],
        "action_items": [{"ref": refs[0], "action": "Share it with the on-call team"}],
    }
    return reply(json.dumps(answer), prompt_tokens=400, completion_tokens=60)


def top_three_from_the_data(request: RecordedRequest) -> Step:
    """A weekly_insights model that picks the first three metrics of the data, as listed (largest
    change first)."""
    prompt = (request.body or {})["messages"][-1]["content"]
    metrics = re.findall(r"^- metric: (\S+) \|", prompt, flags=re.M)[:3]
    answer = {"findings": [{"metric": m, "comment": "Worth a look"} for m in metrics]}
    return reply(json.dumps(answer), prompt_tokens=400, completion_tokens=60)


class HeldModelCall:
    """Chat completions wait until `release()`, then get `answer`'s reply: the first one only, or
    with `hold_all` every one that arrives before the release; later ones are answered at once.

    A test kills a worker while its task waits here, i.e. in the middle of the model call.
    """

    def __init__(
        self,
        answer: Callable[[RecordedRequest], Step] = answer_structured,
        *,
        hold_all: bool = False,
        hold_s: float = 120.0,
    ) -> None:
        self.answer = answer
        self.hold_all = hold_all
        # A held call answers by itself after this long: longer than the test waits for its moment.
        self.hold_s = hold_s
        self.arrived = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.calls = 0
        self.waiting = 0  # calls held right now

    def step(self) -> Step:
        return respond(self._answer)

    def _answer(self, request: RecordedRequest) -> Step:
        with self._lock:
            self.calls += 1
            hold = (self.hold_all or self.calls == 1) and not self._released.is_set()
            self.waiting += hold
        if hold:
            self.arrived.set()
            self._released.wait(self.hold_s)
            with self._lock:
                self.waiting -= 1
        return self.answer(request)

    def release(self) -> None:
        self._released.set()


# -- the loopback services -------------------------------------------------------------------


@dataclass
class SchedulerServices:
    """Session-scoped fakes every cluster process reaches through its connections."""

    model: ScriptedModelServer
    smtp: SmtpFake
    s3: S3Fake
    slack: FakeSlack
    ledger_schema: str
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)

    llm_conn_id: str = "agentjobs_llm_sched"
    smtp_conn_id: str = "smtp_sched"
    aws_conn_id: str = "aws_sched"
    slack_api_conn_id: str = "slack_api_sched"
    slack_webhook_conn_id: str = "slack_webhook_sched"
    ledger_conn_id: str = "ledger_pg_sched"

    def ledger_url(self) -> sa.URL:
        """The ledger's database as the workers see it (the `test` DB, this session's schema)."""
        url = sa.make_url(PG_ADMIN_URL)
        return url.update_query_dict({"options": f"-csearch_path={self.ledger_schema}"})

    def reset_model(self) -> None:
        """Back to the session's script: every structured request answered, nothing queued."""
        self.model.reset()
        self.model.default_step = respond(answer_structured)


@pytest.fixture(scope="session")
def scheduler_services(request: pytest.FixtureRequest) -> Iterator[SchedulerServices]:
    # The session's moto server (tests/delivery/conftest.py), shared with the delivery tests.
    moto_endpoint: str = request.getfixturevalue("_moto_endpoint")
    from aiosmtpd.controller import Controller

    require_postgres()
    model = ScriptedModelServer().start()
    smtp_port = free_port()
    smtp = SmtpFake("127.0.0.1", smtp_port, "smtp_sched")
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port)
    slack = FakeSlack()
    schema = f"agentjobs_sched_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    services: SchedulerServices | None = None
    try:
        controller.start()
        slack.start()
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        s3 = S3Fake(moto_endpoint, "aws_sched", f"digests-{uuid.uuid4().hex[:8]}")
        s3.client().create_bucket(Bucket=s3.bucket)
        # Versioning counts every PUT of a key: a second upload of a digest is visible.
        s3.client().put_bucket_versioning(Bucket=s3.bucket, VersioningConfiguration={"Status": "Enabled"})
        services = SchedulerServices(model=model, smtp=smtp, s3=s3, slack=slack, ledger_schema=schema)
        services.reset_model()
        services.connections = {
            services.llm_conn_id: {
                "conn_type": "agentjobs_llm",
                "host": model.base_url,
                "password": "sk-sched-planted-secret-0123456789",
                "extra": {
                    "model": "scripted-model",
                    "prices": {"*": {"input": 1.0, "output": 4.0}},
                    "timeout": 30,
                },
            },
            services.smtp_conn_id: {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "extra": {
                    "from_email": "digest@agentjobs.test",
                    "disable_ssl": True,
                    "disable_tls": True,
                    "timeout": 10,
                    "retry_limit": 0,
                },
            },
            services.aws_conn_id: {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": moto_endpoint, "region_name": "us-east-1"},
            },
            services.slack_api_conn_id: {
                "conn_type": "slack",
                "password": TOKEN,
                "extra": {"base_url": slack.api_url, "timeout": 10},
            },
            services.slack_webhook_conn_id: {"conn_type": "slackwebhook", "password": slack.webhook_url},
            services.ledger_conn_id: {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": 5432,
                "login": "postgres",
                "schema": "test",  # the database; the ledger's own schema goes in search_path
                "extra": {"sqlalchemy_query": {"options": f"-csearch_path={schema}"}},
            },
        }
        yield services
    finally:
        model.stop()
        controller.stop()
        if slack._thread.is_alive():
            slack.stop()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def extra_scheduler_connections() -> dict[str, dict[str, Any]]:
    """Override in a test package to give the cluster more connections at start."""
    return {}


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def running_cluster(
    sql_alchemy_conn: str,
    connections: dict[str, dict[str, Any]],
    request: pytest.FixtureRequest,
    cluster_class: type[AirflowCluster] = AirflowCluster,
    **options: Any,
) -> Iterator[AirflowCluster]:
    """Start the processes on `sql_alchemy_conn`; stop them and check nothing outlives them.

    `cluster_class` and `options` choose another topology (tests/scheduler/celery_cluster.py).
    """
    global _CLUSTER
    # Not under pytest's basetemp: parallel pytest sessions prune old basetemps, and the
    # logs of a failed session must survive for a post-mortem (removed after a clean one).
    home = Path(tempfile.mkdtemp(prefix="agentjobs-sched-"))
    cluster = cluster_class(
        home,
        sql_alchemy_conn=sql_alchemy_conn.replace("{home}", str(home)),
        connections=connections,
        **options,
    )
    # SIGTERM (a CI job cancelled, `timeout`) would end Python without any finalizer: turn it
    # into the KeyboardInterrupt pytest already handles by tearing the session down.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    outer = _CLUSTER
    failed_before = request.session.testsfailed
    try:
        _CLUSTER = cluster
        _STARTED.append(cluster)
        cluster.start()
        yield cluster
    finally:
        signal.signal(signal.SIGTERM, previous)
        cluster.stop()
        _CLUSTER = outer
        leftovers = cluster.leftovers()
        if leftovers:
            pytest.fail("Airflow processes outlived the cluster:\n" + "\n".join(leftovers))
        if request.session.testsfailed == failed_before:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_cluster(
    scheduler_services: SchedulerServices,
    extra_scheduler_connections: dict[str, dict[str, Any]],
    request: pytest.FixtureRequest,
) -> Iterator[AirflowCluster]:
    """The four Airflow processes on a fresh PostgreSQL metadata DB; stopped, checked, dropped at the end."""
    require_postgres()
    db_name = f"agentjobs_sched_{uuid.uuid4().hex[:10]}"
    connections = {**scheduler_services.connections, **extra_scheduler_connections}
    try:
        with running_cluster(create_database(db_name), connections, request) as cluster:
            yield cluster
    finally:
        drop_database(db_name)


@pytest.fixture(scope="module")
def sqlite_airflow_cluster(
    scheduler_services: SchedulerServices, request: pytest.FixtureRequest
) -> Iterator[AirflowCluster]:
    """The embedded default: the same four processes on a SQLite metadata DB in their home.

    Module-scoped: it runs beside the session's PostgreSQL cluster only for the module using it.
    """
    with running_cluster(
        "sqlite:///{home}/airflow.db", dict(scheduler_services.connections), request
    ) as cluster:
        yield cluster

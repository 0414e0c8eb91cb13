"""The real Airflow processes for scheduler-level tests, and a small client of their REST API.

`AirflowCluster` lays out an AIRFLOW_HOME, migrates a PostgreSQL metadata DB and starts
`airflow api-server`, `scheduler`, `dag-processor` and `triggerer` as subprocesses, each in
a session of its own, with LocalExecutor. Tests drive it only through the public REST API
(/api/v2), as an operator would from the UI: trigger, backfill, clear, read states and XComs.

Nothing here imports Airflow: the test process has its own (SQLite) Airflow configuration
for the dag.test() suites, and the cluster must not share it.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx
import psutil
import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "agentjobs_jobs.py"
# Defines no DAG: raises an import error naming the specs that do not load (if any).
SPEC_ERRORS_FILE = REPO / "dags" / "agentjobs_spec_errors.py"
SKILLS_DIR = REPO / "include" / "skills"
# The project's plugins folder, as a deployment points at it: the UI page is not in it (the
# package's entry point registers the page), so a copy left there would show as an import error.
PLUGINS_DIR = REPO / "plugins"

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/test"

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
FINAL_RUN_STATES = frozenset({"success", "failed"})
FINAL_TI_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
ADMIN_USER = "admin"
# How often a request is sent when a locked SQLite DB refused it (see AirflowApi._send).
LOCKED_DB_ATTEMPTS = 5
READ_TIMEOUT_ATTEMPTS = 3  # a GET timed out (30 s each) is asked again up to this many times in all

# Variables of the test process that must not leak into the cluster: its own Airflow
# configuration (tests/conftest.py points AIRFLOW_HOME at a SQLite home), connections set by
# other tests, cloud credentials, and proxies (the cluster talks to loopback fakes only).
_DROPPED_ENV_PREFIXES = ("AIRFLOW", "AGENTJOBS_", "AWS_", "OPENAI_", "PYTEST_", "GITHUB_")
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class ClusterError(AssertionError):
    """The cluster did not do what a test waited for; the message carries the evidence.

    An AssertionError, so pytest reports it as a test failure with the message in full.
    """


class PostgresUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_postgres(url: str = PG_ADMIN_URL) -> None:
    """Raise PostgresUnavailable with the driver's reason when the server does not answer."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except (sa.exc.OperationalError, ImportError) as exc:
        problem = str(getattr(exc, "orig", None) or exc).strip()
        raise PostgresUnavailable(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {problem}") from None
    finally:
        engine.dispose()


def _admin_engine() -> sa.Engine:
    # CREATE / DROP DATABASE refuse to run inside a transaction.
    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def create_database(name: str) -> str:
    """A fresh, empty database on the local server; returns its SQLAlchemy URL."""
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/{name}"


def drop_database(name: str) -> None:
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            # FORCE: a process killed with SIGKILL may leave a backend behind for a moment.
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 256 * 1024))  # logs grow large; the end is what matters
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"{value!r} is naive; the API needs an aware datetime")
    return value.isoformat()


@dataclass
class _Process:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None


@dataclass
class Measurements:
    startup_s: float | None = None  # from migrate to every component healthy and logged in
    migrate_s: float | None = None
    peak_pss_mb: dict[str, float] = field(default_factory=dict)  # per component, with descendants
    peak_total_pss_mb: float = 0.0
    samples: int = 0
    phases: dict[str, float] = field(default_factory=dict)  # seconds, by `AirflowCluster.timed`
    stop_s: float | None = None
    sigkilled: list[str] = field(default_factory=list)  # what ignored SIGTERM for the grace period
    locked_db_refusals: int = 0  # API requests refused for a locked SQLite DB, then sent again


class AirflowCluster:
    """api-server, scheduler, dag-processor and triggerer on one PostgreSQL metadata DB.

    Connections are AIRFLOW_CONN_* variables of every process, fixed at start; add one
    later with `api.create_connection` (stored in the metadata DB, seen by all processes).
    Jobs are YAML specs written into `jobs_dir` with `add_job`; the DAG processor re-parses
    the jobs DAG file every `parse_interval_s` seconds, so a new job appears within seconds.
    """

    def __init__(
        self,
        home: Path,
        *,
        sql_alchemy_conn: str,
        connections: Mapping[str, Mapping[str, Any]] | None = None,
        parallelism: int = 4,
        parse_interval_s: int = 3,
        use_job_schedule: bool = False,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.home = home
        self.dags_dir = home / "dags"
        self.jobs_dir = home / "jobs"
        self.artifact_base = home / "artifacts"
        self.process_log_dir = home / "process-logs"
        self.task_log_dir = home / "logs"
        self.sql_alchemy_conn = sql_alchemy_conn
        self.connections = dict(connections or {})
        self.parallelism = parallelism
        self.parse_interval_s = parse_interval_s
        self.use_job_schedule = use_job_schedule
        self.extra_env = dict(extra_env or {})
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(16)
        # Shared by every process (see `env`); fresh per cluster.
        self._fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self._jwt_secret = secrets.token_urlsafe(32)
        self._secret_key = secrets.token_urlsafe(32)
        self.measurements = Measurements()
        self._processes: dict[str, _Process] = {}
        self._last_sample = 0.0
        self._api: AirflowApi | None = None

    # -- configuration ------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The complete environment of every Airflow process of this cluster."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(_DROPPED_ENV_PREFIXES) and k.lower() not in _PROXY_VARS
        }
        env.update(
            {
                # The same agentjobs source as the tests, editable install or not.
                "PYTHONPATH": str(REPO / "src"),
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_dir),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                # 2 cores: the default 32 would fork 32 idle workers.
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                # Every process must share these keys: the scheduler signs the task tokens the
                # api-server's execution API checks, and connections in the DB are encrypted.
                "AIRFLOW__CORE__FERNET_KEY": self._fernet_key,
                "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
                "AIRFLOW__API__SECRET_KEY": self._secret_key,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sql_alchemy_conn,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                # Task runners reach the execution API through this URL (default: port 8080).
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.task_log_dir),
                # A spec file is not a DAG file: the jobs DAG file must be re-parsed to see it.
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(self.parse_interval_s),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": str(self.parse_interval_s),
                "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "30",
                # Only what a test asks for runs: backfills, triggers, clears. Cron runs of
                # a job's catchup window would add deliveries nobody asked for.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(self.use_job_schedule),
                "AGENTJOBS_JOBS_DIR": str(self.jobs_dir),
                "AGENTJOBS_SKILLS_DIR": str(SKILLS_DIR),
                "AGENTJOBS_ARTIFACT_BASE": str(self.artifact_base),
                # boto3 must never find the machine's credentials or config.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                "NO_PROXY": "127.0.0.1,localhost",
            }
        )
        for conn_id, conn in self.connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
        env.update(self.extra_env)
        return env

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 180.0) -> AirflowCluster:
        started = time.monotonic()
        for folder in (self.dags_dir, self.jobs_dir, self.artifact_base, self.process_log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(DAG_FILE, self.dags_dir / DAG_FILE.name)
        shutil.copy2(SPEC_ERRORS_FILE, self.dags_dir / SPEC_ERRORS_FILE.name)
        # A known password: the simple auth manager only generates one for users missing here.
        (self.home / "passwords.json").write_text(json.dumps({ADMIN_USER: self.password}) + "\n")
        atexit.register(self.stop)  # a crashed session must not leave the processes behind

        migrate = subprocess.run(
            [*self._airflow, "db", "migrate"],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            timeout=180,
            check=False,
        )
        self.process_log("db-migrate").write_bytes(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise ClusterError(
                f"airflow db migrate exited {migrate.returncode}:\n"
                + tail(self.process_log("db-migrate"), 40)
            )
        self.measurements.migrate_s = time.monotonic() - started

        commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port)],
            # Task logs are files under this home, read by the api-server directly: no log servers.
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }
        for name in COMPONENTS:
            self._spawn(name, commands[name])
        self._api = AirflowApi(self.base_url, ADMIN_USER, self.password, cluster=self)
        self._wait_healthy(started + timeout)
        self._api.login()
        self.measurements.startup_s = time.monotonic() - started
        self.sample_memory(force=True)
        return self

    @property
    def _airflow(self) -> list[str]:
        return [sys.executable, "-m", "airflow"]

    def _spawn(
        self, name: str, args: list[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        """Start `airflow <args>` as component `name`, with `env` or the cluster's environment, in
        `cwd` or the cluster's home."""
        argv = [*self._airflow, *args]
        # If the test process dies without running its finalizers (SIGKILL, OOM), the kernel
        # sends SIGTERM to each component, which then stops its own workers.
        if shutil.which("setpriv"):
            argv = ["setpriv", "--pdeathsig", "TERM", *argv]
        log_path = self.process_log(name)
        log = log_path.open("ab")
        popen = subprocess.Popen(
            argv,
            env=dict(env) if env is not None else self.env,
            cwd=cwd or self.home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
        self._processes[name] = _Process(name, argv, log_path, popen, log)

    def _wait_healthy(self, deadline: float) -> None:
        health: Any = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                health = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5, trust_env=False)
                health = health.json() if health.status_code == 200 else health.text
            except httpx.HTTPError as exc:
                health = repr(exc)
            if isinstance(health, dict) and all(
                (health.get(part) or {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            ):
                return
            time.sleep(0.5)
        raise ClusterError(
            f"cluster not healthy in time; last /monitor/health: {health}\n{self.diagnostics()}"
        )

    def _check_alive(self) -> None:
        for proc in self._processes.values():
            if proc.popen is not None and proc.popen.poll() is not None:
                raise ClusterError(
                    f"airflow {proc.name} exited with {proc.popen.returncode}:\n" + tail(proc.log_path, 80)
                )

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM every component's process group, SIGKILL what is left after `grace_s`.

        Task processes put themselves into process groups of their own, so every descendant
        seen while stopping is tracked and killed too: nothing outlives the session.
        """
        atexit.unregister(self.stop)
        stopping = time.monotonic()
        running = [p for p in self._processes.values() if p.popen is not None and p.popen.poll() is None]
        tree: dict[int, psutil.Process] = {}

        def collect() -> None:
            for proc in running:
                assert proc.popen is not None
                try:
                    root = psutil.Process(proc.popen.pid)
                    for member in (root, *root.children(recursive=True)):
                        tree.setdefault(member.pid, member)
                except psutil.NoSuchProcess:
                    pass

        collect()
        for proc in running:
            assert proc.popen is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            collect()  # workers may still fork while shutting down
            alive = [p for p in tree.values() if _alive(p)]
            if not alive:
                break
            psutil.wait_procs(alive, timeout=0.5)
        killed = [member for member in tree.values() if _alive(member)]
        for member in killed:
            with contextlib.suppress(psutil.Error):
                self.measurements.sigkilled.append(" ".join(member.cmdline())[:120])
        for proc in running:
            assert proc.popen is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
        for member in killed:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        psutil.wait_procs(killed, timeout=5)
        for proc in self._processes.values():
            if proc.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=5)
            if proc.log is not None:
                proc.log.close()
                proc.log = None
        if self._api is not None:
            self._api.close()
        if running:
            self.measurements.stop_s = time.monotonic() - stopping

    def leftovers(self) -> list[str]:
        """Processes of this cluster still alive (for the teardown check): those whose AIRFLOW_HOME
        is its home or a folder below it (a worker with a home of its own, as on another host)."""
        marker = str(self.home)
        found = []
        for proc in psutil.process_iter(["pid", "cmdline", "environ"]):
            with contextlib.suppress(psutil.Error):
                home = (proc.info.get("environ") or {}).get("AIRFLOW_HOME") or ""
                if home == marker or home.startswith(marker + os.sep):
                    found.append(f"{proc.pid} {' '.join(proc.info.get('cmdline') or [])}")
        return found

    # -- jobs ---------------------------------------------------------------------------------

    def add_job(self, spec: Mapping[str, Any]) -> str:
        """Write a job spec into the jobs folder; returns its dag_id (call api.wait_for_dag next).

        The spec is validated here first: one bad spec breaks the DAG file for every job,
        which would surface as a confusing timeout instead of the validation error.
        """
        from agentjobs.jobs.spec import JobSpec

        JobSpec.model_validate(dict(spec))
        dag_id = str(spec["dag_id"])
        target = self.jobs_dir / f"{dag_id}.yaml"
        tmp = target.with_suffix(".yaml.tmp")  # the DAG processor globs *.yaml: never half a file
        tmp.write_text(yaml.safe_dump(dict(spec), sort_keys=False))
        tmp.replace(target)
        # A changed mtime puts the DAG file at the front of the parsing queue.
        (self.dags_dir / DAG_FILE.name).touch()
        return dag_id

    # -- evidence -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Record how long `phase` took (shown in the session's terminal summary)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.measurements.phases[phase] = time.monotonic() - started

    @property
    def api(self) -> AirflowApi:
        if self._api is None:
            raise RuntimeError("cluster not started")
        return self._api

    def component_tree(self, name: str) -> list[psutil.Process]:
        """A component's process and all its descendants (a scheduler's executor workers and tasks)."""
        proc = self._processes[name]
        if proc.popen is None or proc.popen.poll() is not None:
            raise ClusterError(f"airflow {name} is not running")
        root = psutil.Process(proc.popen.pid)
        return [root, *root.children(recursive=True)]

    def process_log(self, name: str) -> Path:
        """Where the component `name` (api-server, scheduler, ...) writes its output."""
        return self.process_log_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 60) -> str:
        return tail(self.process_log(name), lines)

    def task_log_tail(self, dag_id: str, run_id: str, task_id: str, try_number: int, lines: int = 40) -> str:
        path = self.task_log_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return tail(path / f"attempt={try_number}.log", lines)

    def diagnostics(self, lines: int = 40) -> str:
        parts = []
        for name in ("scheduler", "dag-processor", "api-server"):
            parts.append(f"--- tail of the {name} log ---\n{self.log_tail(name, lines)}")
        return "\n".join(parts)

    def sample_memory(self, *, force: bool = False) -> dict[str, float]:
        """PSS in MB per component (its whole process tree); peaks kept in `measurements`.

        PSS, not RSS: the forked workers share most pages with their parent.
        """
        now = time.monotonic()
        if not force and now - self._last_sample < 5:
            return {}
        self._last_sample = now
        sample: dict[str, float] = {}
        for name, proc in self._processes.items():
            if proc.popen is None or proc.popen.poll() is not None:
                continue
            total = 0
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.popen.pid)
                for member in (root, *root.children(recursive=True)):
                    with contextlib.suppress(psutil.Error):
                        total += member.memory_full_info().pss
            sample[name] = total / 2**20
        m = self.measurements
        m.samples += 1
        for name, mb in sample.items():
            m.peak_pss_mb[name] = max(m.peak_pss_mb.get(name, 0.0), mb)
        m.peak_total_pss_mb = max(m.peak_total_pss_mb, sum(sample.values()))
        return sample


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class ApiError(AssertionError):
    pass


class AirflowApi:
    """The public REST API (/api/v2) with a JWT from the simple auth manager (POST /auth/token)."""

    def __init__(self, base_url: str, username: str, password: str, *, cluster: AirflowCluster) -> None:
        self.base_url = base_url
        self.username = username
        self.password = password
        self.cluster = cluster
        # trust_env=False: no proxy from the environment may sit between the test and loopback.
        self._http = httpx.Client(base_url=f"{base_url}/api/v2", timeout=30, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def login(self) -> None:
        response = httpx.post(
            f"{self.base_url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=30,
            trust_env=False,
        )
        if response.status_code != 201:
            raise ApiError(f"POST /auth/token -> {response.status_code}: {response.text}")
        self._http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def request(self, method: str, path: str, *, ok: Iterable[int] = (200, 201), **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if response.status_code not in set(ok):
            raise ApiError(f"{method} /api/v2{path} -> {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The response; a request refused, undone, for a locked SQLite DB is sent again.

        On SQLite a write that finds the database locked by the scheduler fails the request:
        a 500 "Database error" when it was the audit-log row every write endpoint inserts
        before acting, a 503 "Database is locked" when a backfill's runs could not be written
        (Airflow removes the partial backfill first). Either way nothing was done, and the
        operator's remedy is to send it again. Any other error is the test's to see.
        """
        response = self._request(method, path, **kwargs)
        for attempt in range(1, LOCKED_DB_ATTEMPTS):
            if not self._refused_for_a_locked_db(response):
                break
            self.cluster.measurements.locked_db_refusals += 1
            self._idle(2.0 * attempt)
            response = self._request(method, path, **kwargs)
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a GET the api-server did not answer in time is asked again (a GET changes
        nothing): its one worker also serves every running task's execution API, and with a few
        hundred tasks on 2 cores a poll waited longer than 30 s (bench/fanout_throughput.py)."""
        for attempt in range(1, READ_TIMEOUT_ATTEMPTS + 1):
            try:
                return self._http.request(method, path, **kwargs)
            except httpx.TimeoutException:
                if method.upper() != "GET" or attempt == READ_TIMEOUT_ATTEMPTS:
                    raise
                self._idle(1.0)
        raise AssertionError("unreachable")

    def _refused_for_a_locked_db(self, response: httpx.Response) -> bool:
        if response.status_code == 503:
            return "Database is locked" in response.text
        error_id = re.search(r"look for ID (\w+)", response.text)
        if response.status_code != 500 or error_id is None:
            return False
        api_log = self.cluster.process_log("api-server").read_text(errors="replace")
        return f"Error with id {error_id.group(1)}, statement: INSERT INTO log " in api_log

    # -- DAGs ---------------------------------------------------------------------------------

    def get_dag(self, dag_id: str) -> dict[str, Any] | None:
        response = self._http.get(f"/dags/{dag_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ApiError(f"GET /dags/{dag_id} -> {response.status_code}: {response.text}")
        return response.json()

    def import_errors(self) -> list[dict[str, Any]]:
        return self.request("GET", "/importErrors")["import_errors"]

    def wait_for_dag(self, dag_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """The DAG once the DAG processor has parsed it; an import error fails at once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dag = self.get_dag(dag_id)
            if dag is not None and not dag["is_stale"] and not dag["is_paused"]:
                return dag
            errors = self.import_errors()
            if errors:
                raise ClusterError(
                    f"import errors while waiting for {dag_id}: {json.dumps(errors, indent=1)}"
                )
            self._idle()
        raise ClusterError(f"DAG {dag_id} not parsed within {timeout:.0f}s\n{self.cluster.diagnostics()}")

    def create_pool(self, name: str, slots: int, description: str = "") -> dict[str, Any]:
        """POST /pools (a task in a pool that does not exist is never scheduled)."""
        body = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        return self.request("POST", "/pools", json=body)

    def ensure_pool(self, name: str, slots: int, description: str = "") -> None:
        """The pool, created unless a test before made it (pools outlive a test's jobs)."""
        if name not in {p["name"] for p in self.request("GET", "/pools")["pools"]}:
            self.create_pool(name, slots, description)

    def create_connection(self, conn_id: str, conn: Mapping[str, Any]) -> dict[str, Any]:
        """POST /connections: stored in the metadata DB, so every running process sees it.

        `conn` as for AIRFLOW_CONN_* JSON (conn_type, host, login, password, port, extra).
        """
        body = {"connection_id": conn_id, **conn}
        if isinstance(body.get("extra"), Mapping):
            body["extra"] = json.dumps(body["extra"])
        return self.request("POST", "/connections", json=body)

    # -- runs ---------------------------------------------------------------------------------

    def trigger(
        self,
        dag_id: str,
        *,
        logical_date: datetime | None,
        conf: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """POST /dags/{dag_id}/dagRuns. `logical_date` is required in the body (None is allowed)."""
        body: dict[str, Any] = {"logical_date": None if logical_date is None else _iso(logical_date)}
        body["conf"] = dict(conf or {})
        if run_id is not None:
            body["dag_run_id"] = run_id
        if note is not None:
            body["note"] = note
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)

    def create_backfill(
        self,
        dag_id: str,
        from_date: datetime,
        to_date: datetime,
        *,
        max_active_runs: int = 3,
        reprocess_behavior: str = "none",
        run_backwards: bool = False,
        dag_run_conf: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """POST /backfills: one run per schedule tick with from_date <= logical date <= to_date."""
        body: dict[str, Any] = {
            "dag_id": dag_id,
            "from_date": _iso(from_date),
            "to_date": _iso(to_date),
            "max_active_runs": max_active_runs,
            "reprocess_behavior": reprocess_behavior,
            "run_backwards": run_backwards,
        }
        if dag_run_conf is not None:
            body["dag_run_conf"] = dict(dag_run_conf)
        return self.request("POST", "/backfills", json=body)

    def get_backfill(self, backfill_id: int) -> dict[str, Any]:
        return self.request("GET", f"/backfills/{backfill_id}")

    def clear_run(self, dag_id: str, run_id: str, *, only_failed: bool = False) -> dict[str, Any]:
        """POST /dags/{dag_id}/dagRuns/{run_id}/clear, for real: the endpoint defaults to dry_run."""
        body = {"dry_run": False, "only_failed": only_failed}
        return self.request("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json=body)

    def clear_task_instances(
        self, dag_id: str, run_id: str, task_ids: list[str] | None = None, *, only_failed: bool = False
    ) -> dict[str, Any]:
        """POST /dags/{dag_id}/clearTaskInstances for one run (defaults there: dry_run, only_failed)."""
        body: dict[str, Any] = {"dry_run": False, "only_failed": only_failed, "dag_run_id": run_id}
        if task_ids is not None:
            body["task_ids"] = task_ids
        return self.request("POST", f"/dags/{dag_id}/clearTaskInstances", json=body)

    def dag_runs(self, dag_id: str, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("limit", 100)
        params.setdefault("order_by", "logical_date")
        return self.request("GET", f"/dags/{dag_id}/dagRuns", params=params)["dag_runs"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self.request("GET", path, params={"limit": 100})["task_instances"]

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every try of a task instance, earliest first (the current one included)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        tries = self.request("GET", path, params={"limit": 100})["task_instances"]
        return sorted(tries, key=lambda t: t["try_number"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """The value a task pushed, as JSON (the API returns it as stored)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        value = self.request("GET", path)["value"]
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value

    # -- waiting ------------------------------------------------------------------------------

    def wait_for_runs(
        self, dag_id: str, run_ids: Iterable[str], *, timeout: float = 180.0, expect: str | None = "success"
    ) -> list[dict[str, Any]]:
        """Poll until every run is final; with `expect`, a run ending otherwise fails the test."""
        wanted = list(run_ids)
        deadline = time.monotonic() + timeout
        runs: dict[str, dict[str, Any]] = {}
        while True:
            runs = {run_id: self.dag_run(dag_id, run_id) for run_id in wanted}
            if all(run["state"] in FINAL_RUN_STATES for run in runs.values()):
                break
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"runs of {dag_id} not final within {timeout:.0f}s: "
                    f"{ {r: run['state'] for r, run in runs.items()} }\n{self.explain(dag_id, wanted)}"
                )
            self._idle()
        if expect is not None:
            wrong = [run_id for run_id, run in runs.items() if run["state"] != expect]
            if wrong:
                raise ClusterError(f"runs of {dag_id} did not end {expect}:\n{self.explain(dag_id, wrong)}")
        return [runs[run_id] for run_id in wanted]

    def wait_for_backfill(
        self, backfill: Mapping[str, Any], *, timeout: float = 240.0, expect: str | None = "success"
    ) -> list[dict[str, Any]]:
        """The backfill's runs, once the scheduler has completed the backfill and they are final."""
        dag_id = backfill["dag_id"]
        deadline = time.monotonic() + timeout
        while self.get_backfill(backfill["id"])["completed_at"] is None:
            if time.monotonic() > deadline:
                runs = self.dag_runs(dag_id, run_type="backfill")
                raise ClusterError(
                    f"backfill {backfill['id']} of {dag_id} not completed within {timeout:.0f}s: "
                    f"{ {r['dag_run_id']: r['state'] for r in runs} }\n"
                    f"{self.explain(dag_id, [r['dag_run_id'] for r in runs])}"
                )
            self._idle()
        # This backfill's runs: backfill runs of the DAG inside its date range.
        window = {"logical_date_gte": backfill["from_date"], "logical_date_lte": backfill["to_date"]}
        run_ids = [r["dag_run_id"] for r in self.dag_runs(dag_id, run_type="backfill", **window)]
        return self.wait_for_runs(
            dag_id, run_ids, timeout=max(5.0, deadline - time.monotonic()), expect=expect
        )

    def explain(self, dag_id: str, run_ids: Iterable[str]) -> str:
        """Task states of the runs, the log tails of unfinished or failed tasks, the scheduler's log."""
        lines = []
        for run_id in run_ids:
            try:
                tis = self.task_instances(dag_id, run_id)
            except ApiError as exc:
                lines.append(f"{run_id}: {exc}")
                continue
            lines.append(f"{run_id}: " + ", ".join(f"{ti['task_id']}={ti['state']}" for ti in tis))
            for ti in tis:
                if ti["state"] not in ("success", "skipped", None, "scheduled", "queued"):
                    log = self.cluster.task_log_tail(dag_id, run_id, ti["task_id"], max(1, ti["try_number"]))
                    lines.append(f"--- {ti['task_id']} try {ti['try_number']} ({ti['state']}) ---\n{log}")
        lines.append(self.cluster.diagnostics())
        return "\n".join(lines)

    def _idle(self, seconds: float = 1.0) -> None:
        self.cluster._check_alive()
        self.cluster.sample_memory()
        time.sleep(seconds)


def poll(condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.5) -> Any:
    """condition()'s first truthy value within `timeout`, else ClusterError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)

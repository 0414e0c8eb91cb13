"""The compose topology as local processes: `AirflowCluster` with CeleryExecutor and N workers.

The api-server, scheduler, dag-processor and triggerer of `AirflowCluster`, plus `airflow celery
worker` processes, on a Redis broker (a database number of its own, flushed at start) and a
Celery result backend on the cluster's PostgreSQL metadata DB. Each worker has a name, and the
task instances it runs carry that name as their `hostname`, as each worker container of a
compose deployment has a hostname of its own (here they share one machine).

Nothing here imports Airflow, for the reason harness.py gives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa

from tests.scheduler.harness import AirflowCluster, ClusterError, tail

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Tasks read the worker's name through [core] hostname_callable, from this variable.
WORKER_NAME_VAR = "AGENTJOBS_TEST_WORKER_NAME"
_HOSTNAME_MODULE = "agentjobs_test_worker_name"
_HOSTNAME_SOURCE = f'''"""[core] hostname_callable of the test's Celery workers: the worker's own name."""
import os


def worker_name() -> str:
    return os.environ["{WORKER_NAME_VAR}"]
'''


class RedisUnavailable(RuntimeError):
    pass


def check_redis(db: int) -> None:
    """Raise RedisUnavailable with the client's reason when the server does not answer."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RedisUnavailable(f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT}: {exc}") from None
    finally:
        client.close()


def flush_redis(db: int) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_connect_timeout=3)
    try:
        client.flushdb()
    finally:
        client.close()


class CeleryCluster(AirflowCluster):
    """`AirflowCluster` on CeleryExecutor, with `workers` named `airflow celery worker` processes.

    `heartbeat_timeout_s` is the scheduler's [scheduler] task_instance_heartbeat_timeout: how
    long a task instance whose worker died stays `running` before the scheduler fails that try
    (and retries it, when retries are left). The default, 300 s, is too long for a test.
    """

    def __init__(
        self,
        home: Path,
        *,
        redis_db: int,
        workers: int = 2,
        worker_concurrency: int = 2,
        heartbeat_timeout_s: int = 20,
        **options: Any,
    ) -> None:
        super().__init__(home, **options)
        self.redis_db = redis_db
        self.worker_names = [f"worker{n}" for n in range(1, workers + 1)]
        self.worker_concurrency = worker_concurrency
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.killed: list[str] = []  # workers SIGKILLed by `kill_worker`
        self.workers_ready_s: float | None = None  # from start to every worker consuming

    @property
    def broker_url(self) -> str:
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}"

    @property
    def result_backend(self) -> str:
        # Celery's database backend takes SQLAlchemy URLs behind a `db+` prefix.
        url = sa.make_url(self.sql_alchemy_conn).set(drivername="postgresql")
        return "db+" + url.render_as_string(hide_password=False)

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": self.result_backend,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                # 2 cores: the scheduler's default forks cpu_count - 1 processes to read states.
                "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout_s),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            }
        )
        return env

    def start(self, timeout: float = 180.0) -> CeleryCluster:
        if not self.sql_alchemy_conn.startswith("postgresql"):
            raise ValueError("the Celery result backend lives in the metadata DB: PostgreSQL only")
        started = time.monotonic()
        flush_redis(self.redis_db)  # no message of an earlier session may reach these workers
        pylib = self.home / "pylib"
        pylib.mkdir(parents=True, exist_ok=True)
        (pylib / f"{_HOSTNAME_MODULE}.py").write_text(_HOSTNAME_SOURCE)
        super().start(timeout)
        base_env = {**self.env, "PYTHONPATH": f"{pylib}{os.pathsep}{self.env['PYTHONPATH']}"}
        for name in self.worker_names:
            args = ["celery", "worker", "--concurrency", str(self.worker_concurrency)]
            args += ["--celery-hostname", f"{name}@%h", "--skip-serve-logs"]
            self._spawn(name, args, env=self.worker_env(name, base_env), cwd=self.worker_cwd(name))
        self._wait_workers_ready(started + timeout)
        self.workers_ready_s = time.monotonic() - started
        self.measurements.startup_s = self.workers_ready_s
        return self

    def worker_env(self, name: str, base_env: Mapping[str, str]) -> dict[str, str]:
        """The environment of worker `name`: the cluster's, with the worker's own name.

        A subclass gives a worker more of its own (tests/scheduler/test_multi_host.py: a home,
        an artifact base and a temp folder each, as on hosts that share no disk)."""
        return {
            **base_env,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{_HOSTNAME_MODULE}.worker_name",
            WORKER_NAME_VAR: name,
        }

    def worker_cwd(self, name: str) -> Path:
        """Where worker `name` runs: the cluster's home (a subclass may give each its own)."""
        return self.home

    def _wait_workers_ready(self, deadline: float) -> None:
        waiting = list(self.worker_names)
        while waiting:
            self._check_alive()
            waiting = [n for n in waiting if " ready." not in self.process_log(n).read_text(errors="replace")]
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {n} ---\n{tail(self.process_log(n), 40)}" for n in waiting)
                raise ClusterError(f"Celery workers not ready: {waiting}\n{logs}")
            time.sleep(0.5)

    def worker_tree(self, name: str) -> list[psutil.Process]:
        """The worker's process and its descendants: Celery's pool and the tasks it runs."""
        return self.component_tree(name)

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL the worker with everything it started, as a container's sudden death would.

        Task processes may sit in process groups of their own, so the whole tree is killed, not
        only the worker's group. Returns the killed pids.
        """
        tree = self.worker_tree(name)
        proc = self._processes.pop(name)  # a dead worker is no longer a component to check
        assert proc.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGKILL)
        for member in tree:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(tree, timeout=10)
        proc.popen.wait(timeout=10)
        if proc.log is not None:
            proc.log.close()
        self.killed.append(name)
        return [member.pid for member in tree]

    def describe_workers(self) -> Mapping[str, str]:
        """Each worker's state, for a failure message."""
        return {n: ("killed" if n in self.killed else "running") for n in self.worker_names}

"""What the Compose file's comments and the deployment page (docs/deploy.md) promise of two of its
habits, shown with the real programs instead of a Docker engine (none runs here):

- `./config` holds `airflow.cfg` (AIRFLOW_CONFIG): Airflow writes its defaults there on the first
  command, without any secret of the Compose environment and readable by its owner only, and the
  Compose environment wins over the file while an option the environment leaves alone is read
  from it.
- Flower (profile `flower`), started by the service's own command with a login set, answers its
  health check's URL without the login and asks every page for it.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import checks

CONTAINER_HOME = "/opt/airflow"
REDIS_URL = "redis://127.0.0.1:6379/12"  # a database number of this module's; nothing is flushed


def _service(name: str) -> dict[str, Any]:
    """The service as Compose sees it, interpolated from .env.example."""
    document = checks.load_compose(checks.COMPOSE.read_text(encoding="utf-8"), checks.example_env())
    return document["services"][name]


def _process_env(service_env: Mapping[str, str], home: Path) -> dict[str, str]:
    """The service's environment with the container's /opt/airflow moved to `home`, plus what a
    Python process here needs to find the checkout."""
    env = {key: value.replace(CONTAINER_HOME, str(home)) for key, value in service_env.items()}
    env.update(
        AIRFLOW_HOME=str(home),
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        HOME=str(home),
        PYTHONPATH=os.environ.get("PYTHONPATH", ""),
    )
    return env


def _airflow(args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_airflow_writes_its_config_into_config_without_the_compose_secrets(tmp_path: Path) -> None:
    service_env = checks.environment_of(_service("airflow-worker"))
    assert service_env["AIRFLOW_CONFIG"] == f"{CONTAINER_HOME}/config/airflow.cfg"
    env = _process_env(service_env, tmp_path)
    config = tmp_path / "config" / "airflow.cfg"

    first = _airflow(["config", "get-value", "core", "executor"], env)
    assert first.returncode == 0, first.stderr[-2000:]
    # The Compose environment wins over the defaults the file now holds (LocalExecutor).
    assert first.stdout.strip() == "CeleryExecutor"
    text = config.read_text(encoding="utf-8")
    assert "[core]" in text and "executor = LocalExecutor" in text
    # None of the example's secrets (every one a change-me placeholder) reached the file, and the
    # file is its owner's alone: airflow-init's chown hands it to AIRFLOW_UID.
    secrets = {value for key, value in service_env.items() if "change-me" in value}
    assert secrets and "change-me" not in text
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    # An option the environment does not set is read from the file: edit its default there.
    assert "\ndefault_task_retries = 0\n" in text
    config.write_text(
        text.replace("\ndefault_task_retries = 0\n", "\ndefault_task_retries = 7\n"), encoding="utf-8"
    )
    second = _airflow(["config", "get-value", "core", "default_task_retries"], env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.strip() == "7"


def _redis_or_skip() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str, auth: str | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def flower(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Flower as the `flower` service starts it (its command, its environment), on the local Redis
    and a free loopback port; (base URL, the login)."""
    _redis_or_skip()
    service = _service("flower")
    login = "ops:not-a-real-password"
    env = _process_env(checks.environment_of(service), tmp_path)
    env.update(
        AIRFLOW__CELERY__BROKER_URL=REDIS_URL,
        AIRFLOW__CELERY__RESULT_BACKEND=f"db+sqlite:///{tmp_path}/celery-results.db",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/airflow.db",
        AIRFLOW__CELERY__FLOWER_BASIC_AUTH=login,
    )
    port = _free_port()
    argv = [*service["command"].split(), "--hostname", "127.0.0.1", "--port", str(port)]
    log = (tmp_path / "flower.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow", *argv],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped by its id below
    )
    try:
        yield f"http://127.0.0.1:{port}", login
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def test_flowers_health_check_needs_no_login_and_its_pages_do(
    flower: tuple[str, str], tmp_path: Path
) -> None:
    base, login = flower
    # The URL the service's health check curls, on this Flower's port.
    health_url = _service("flower")["healthcheck"]["test"][-1].replace("http://localhost:5555", base)
    assert health_url == f"{base}/healthcheck"
    deadline = time.monotonic() + 90
    status = 0
    while time.monotonic() < deadline:
        try:
            status = _status(health_url)
        except OSError:  # not listening yet
            status = 0
        if status == 200:
            break
        time.sleep(1)
    log = (tmp_path / "flower.log").read_text(encoding="utf-8", errors="replace")
    assert status == 200, f"Flower's /healthcheck never answered 200 (last {status}):\n{log[-3000:]}"
    assert _status(f"{base}/") == 401
    assert _status(f"{base}/workers", auth="ops:wrong") == 401
    assert _status(f"{base}/", auth=login) == 200
    # The login is no part of what Flower logs.
    assert login.split(":")[1] not in log

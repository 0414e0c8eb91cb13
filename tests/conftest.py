"""Test-wide set-up. Airflow reads its configuration at import, so the environment is set
here, before any test module imports airflow."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="agentjobs-airflow-home-"))

os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ["AGENTJOBS_SKILLS_DIR"] = str(REPO / "include" / "skills")
os.environ["AGENTJOBS_ARTIFACT_BASE"] = str(_AIRFLOW_HOME / "artifacts")

import pytest  # noqa: E402

from tests.fakes.fixtures import company_directory, model_server  # noqa: E402, F401
from tests.fakes.otlp import otlp_receiver  # noqa: E402, F401
from tests.fakes.statsd import statsd_server  # noqa: E402, F401

# What the session set above and `agentjobs` commands run in-process rewrite (cli/project.py
# prepare_environment points Airflow at the command's output folder). Restored after every test:
# in-process Airflow keeps the settings it read, but a subprocess started later (a worker killed
# mid-run, the CLI) would inherit a metadata DB of a test that is gone.
_SESSION_ENV = (
    "AIRFLOW_HOME",
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__LOGGING__LOGGING_LEVEL",
    "AGENTJOBS_ARTIFACT_BASE",
    "AGENTJOBS_SKILLS_DIR",
    "AIRFLOW__AGENTJOBS__RUN_FILES",
)


@pytest.fixture(autouse=True)
def _session_environment_kept() -> Iterator[None]:
    before = {name: os.environ.get(name) for name in _SESSION_ENV}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An initialised Airflow metadata DB (SQLite in the temp AIRFLOW_HOME), once per session."""
    from airflow.utils import db

    db.resetdb()
    return _AIRFLOW_HOME


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A run that collected nothing must never read as green, whatever selected it.
    if session.testscollected == 0 and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED

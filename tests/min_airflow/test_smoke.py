"""The provider on the lowest Airflow it declares (pyproject: `apache-airflow>=X`), in a venv of its
own: `.venv-min-airflow`, built by `.ci/min-airflow-venv` (the README's test command runs it first)
from tests/min_airflow/constraints.txt. This tree is installed into it offline, then the smoke:
the metadata DB migrates, Airflow parses every shipped job with no import error, the digest runs
against the loopback model, and the installed package registers the UI page, which answers.

Without the venv the tests skip with the command that builds it, except under
AGENTJOBS_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fakes.model_server import respond
from tests.jobs.specs import SHIPPED
from tests.scenarios.digest_job import pick_first_refs
from tests.test_wheel import NOT_SOURCE, clean_env

VENV = Path(os.environ.get("AGENTJOBS_MIN_AIRFLOW_VENV", REPO / ".venv-min-airflow"))
LOCK = REPO / "tests" / "min_airflow" / "constraints.txt"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def declared_floor() -> str:
    """The X of pyproject's `apache-airflow>=X`."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if re.match(r"apache-airflow\s*[<>=!~]", d)]
    match = re.search(r">=\s*([0-9.]+)", spec)
    assert match, f"pyproject's {spec!r} declares no lowest version"
    return match.group(1)


def run(*args: str, cwd: Path, timeout: int = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """A command of the min venv (`airflow`, `agentjobs`, `python`...), with none of this session's
    Airflow settings, so it reads only what the test gives it."""
    return subprocess.run(
        [str(VENV / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=clean_env(**env),
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def min_venv(tmp_path_factory) -> Path:
    """The min venv with this working tree installed in it (built offline, no dependency touched)."""
    if not (VENV / "bin" / "python").exists():
        reason = f"no venv at {VENV}: run .ci/min-airflow-venv first (it builds the lowest Airflow's venv)"
        if os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("min-airflow-wheel")
    shutil.copytree(REPO, base / "source", ignore=NOT_SOURCE)
    pip = str(VENV / "bin" / "pip")
    built = subprocess.run(
        [pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"), "./source"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=base,
        env=clean_env(),
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (base / "dist").glob("airflow_provider_agentjobs-*.whl")
    installed = subprocess.run(
        [pip, "install", "-q", "--no-deps", "--no-index", "--force-reinstall", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=base,
        env=clean_env(),
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return VENV


@pytest.fixture(scope="module")
def home(min_venv, tmp_path_factory) -> dict[str, str]:
    """An Airflow home on SQLite, migrated by the min Airflow's own `airflow db migrate`."""
    base = tmp_path_factory.mktemp("min-airflow-home")
    env = {"AIRFLOW_HOME": str(base / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    migrated = run("airflow", "db", "migrate", cwd=base, **env)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return env


def test_the_venv_runs_the_lowest_airflow_pyproject_declares_and_the_pins_agree(min_venv, tmp_path):
    floor = declared_floor()
    assert f"apache-airflow=={floor}\n" in LOCK.read_text()
    versions = run(
        "python",
        "-c",
        "import airflow, agentjobs; from importlib.metadata import version as v;"
        "print(airflow.__version__, v('apache-airflow-core'), agentjobs.__file__)",
        cwd=tmp_path,
    )
    assert versions.returncode == 0, versions.stderr[-3000:]
    airflow, core, where = versions.stdout.split()
    assert airflow == core == floor
    assert where.startswith(str(min_venv)), "the installed package, not the checkout"


def test_airflow_parses_every_shipped_job_with_no_import_error(home, tmp_path):
    dags = tmp_path / "dags"
    init = run("agentjobs", "init", str(dags), cwd=tmp_path, **home)
    assert init.returncode == 0, init.stderr[-3000:]
    parse = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(dags)!r}, include_examples=False)\n"
        "print(json.dumps({'ids': sorted(bag.dag_ids), 'errors': bag.import_errors}))\n"
    )
    parsed = run("python", "-c", parse, cwd=tmp_path, **home)
    assert parsed.returncode == 0, parsed.stderr[-3000:]
    bag = json.loads(parsed.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}
    assert set(bag["ids"]) == {*SHIPPED, "agentjobs_health"}


def test_the_digest_runs_on_the_lowest_airflow_against_the_loopback_model(min_venv, model_server, tmp_path):
    model_server.default_step = respond(pick_first_refs)
    out = tmp_path / "out"
    result = run(
        "agentjobs",
        *("digest", "--date", "2026-11-24", "--timezone", "UTC", "--out", str(out)),
        cwd=tmp_path,
        OPENAI_BASE_URL=model_server.base_url,
        OPENAI_API_KEY="sk-min-airflow",
        AGENTJOBS_MODEL="scripted",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    digest = out / "daily_digest" / "2026-11-24" / "digest.md"
    assert f"digest written to {digest}" in result.stdout
    assert "Capping LLM agent spend per task instance" in digest.read_text()  # a demo feed item
    assert model_server.calls >= 1
    said = result.stdout + result.stderr
    # The run's metrics went to this Airflow's Stats (3.2 has no module-level stats.incr).
    assert "could not emit metric" not in said
    if tuple(map(int, declared_floor().split("."))) < (3, 3):
        # What degrades below 3.3 says so in the task log (docs/airflow-versions.md).
        assert "no task state store (Airflow < 3.3): the caps bound this try only" in said


def test_the_installed_package_registers_the_ui_page_and_it_answers(home, tmp_path):
    empty = tmp_path / "plugins"
    empty.mkdir()
    env = {**home, "AIRFLOW__CORE__PLUGINS_FOLDER": str(empty)}
    listed = run("airflow", "plugins", "--output", "json", cwd=tmp_path, **env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    (page,) = [p for p in json.loads(listed.stdout) if p["name"] == "agentjobs_ui"]
    assert "airflow-provider-agentjobs" in page["source"]
    # The page's app loads on this Airflow's API modules and checks the caller: no token, 401.
    ask = (
        "from fastapi.testclient import TestClient\n"
        "from agentjobs.ui.plugin import AgentJobsUiPlugin\n"
        "app = AgentJobsUiPlugin.fastapi_apps[0]['app'].load()\n"
        "print(TestClient(app).get('/').status_code)\n"
    )
    answered = run("python", "-c", ask, cwd=tmp_path, **env)
    assert answered.returncode == 0, answered.stderr[-3000:]
    assert answered.stdout.split()[-1] == "401"

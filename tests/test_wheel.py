"""The package as `pip install airflow-provider-agentjobs` gives it: a built wheel in a fresh venv,
no checkout on the path. It carries the shipped skills, specs, demo feed and DAG files, and
`agentjobs init` and `agentjobs digest` work from it alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fakes.model_server import respond
from tests.jobs.specs import SHIPPED
from tests.scenarios.digest_job import pick_first_refs

# Never copied into the build: the checkout's own environment and build leftovers.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".venv-*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "out",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built as `pip wheel --no-deps .` builds it, from a copy of the working tree (so
    the build leaves nothing in the checkout)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=base,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = (base / "dist").glob("airflow_provider_agentjobs-*.whl")
    return path


def shipped_files() -> list[str]:
    """Every file of include/{skills,jobs,demo} and the DAG files, as the repository has them."""
    files = [
        str(path.relative_to(REPO))
        for folder in ("skills", "jobs", "demo")
        for path in (REPO / "include" / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    return sorted([*files, "dags/agentjobs_jobs.py", "dags/agentjobs_spec_errors.py"])


def test_the_wheel_carries_every_shipped_skill_spec_demo_file_and_dag_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = shipped_files()
    assert len(expected) > 20 and "include/skills/daily-digest/SKILL.md" in expected
    missing = [name for name in expected if f"agentjobs/shipped/{name}" not in names]
    assert missing == []
    # Byte for byte what the checkout has, so an installed job behaves as the tested one.
    with zipfile.ZipFile(wheel) as archive:
        for name in expected:
            assert archive.read(f"agentjobs/shipped/{name}") == (REPO / name).read_bytes(), name


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment minus anything pointing into the checkout or at a configuration."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "AGENTJOBS", "OPENAI", "PYTHON", "VIRTUAL_ENV"))
    }
    return {**kept, **extra}


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv (no system site packages) with the wheel installed, pinned by constraints.txt."""
    base = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=300)
    installed = subprocess.run(
        [
            str(base / "venv" / "bin" / "pip"),
            "install",
            "-q",
            "-c",
            str(REPO / "constraints.txt"),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=base,
        env=clean_env(),
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return base / "venv"


def in_venv(venv: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=clean_env(**env),
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
@pytest.mark.timeout(1500)  # the first use installs the wheel: minutes on a busy machine
def test_agentjobs_init_writes_a_dags_folder_airflow_parses_into_the_shipped_jobs(venv, tmp_path):
    where = in_venv(venv, "python", "-c", "import agentjobs; print(agentjobs.__file__)", cwd=tmp_path)
    assert where.stdout.strip().startswith(str(venv)), "the installed package, not the checkout"
    home = tmp_path / "airflow-home"
    dags = tmp_path / "dags"
    airflow = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    init = in_venv(venv, "agentjobs", "init", str(dags), cwd=tmp_path, **airflow)
    assert init.returncode == 0, init.stderr[-3000:]
    assert "wrote agentjobs_jobs.py" in init.stdout
    assert 'airflow pools set agentjobs_llm 4 "LLM endpoint"' in init.stdout
    assert (dags / "agentjobs-project" / "include" / "skills" / "daily-digest" / "SKILL.md").is_file()

    parse = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(dags)!r})\n"
        "skills = {getattr(t, 'skills_dir', None) for d in bag.dags.values() for t in d.tasks} - {None}\n"
        "print(json.dumps({'ids': sorted(bag.dag_ids), 'errors': bag.import_errors,\n"
        "                  'skills': sorted(map(str, skills))}))\n"
    )
    parsed = in_venv(venv, "python", "-c", parse, cwd=tmp_path, **airflow)
    assert parsed.returncode == 0, parsed.stderr[-3000:]
    bag = json.loads(parsed.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}
    assert set(bag["ids"]) == {*SHIPPED, "agentjobs_health"}
    # The agents read the skills init wrote (the ones a user edits), not the package's copy.
    assert bag["skills"] == [str(dags / "agentjobs-project" / "include" / "skills")]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_agentjobs_digest_runs_from_the_installed_wheel_on_the_demo_feed(venv, model_server, tmp_path):
    model_server.default_step = respond(pick_first_refs)
    out = tmp_path / "out"
    result = in_venv(
        venv,
        "agentjobs",
        "digest",
        "--date",
        "2026-11-24",
        "--timezone",
        "UTC",
        "--out",
        str(out),
        cwd=tmp_path,  # no git repository here, no checkout above
        OPENAI_BASE_URL=model_server.base_url,
        OPENAI_API_KEY="sk-wheel",
        AGENTJOBS_MODEL="scripted",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "digesting the demo feed only" in result.stdout
    digest = out / "daily_digest" / "2026-11-24" / "digest.md"
    assert f"digest written to {digest}" in result.stdout
    assert "Capping LLM agent spend per task instance" in digest.read_text()  # a demo feed item
    assert model_server.calls >= 1


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_the_installed_wheel_registers_the_ui_page_with_no_plugins_folder(venv, tmp_path):
    """`pip install` is all it takes: Airflow finds the page through the package's entry point."""
    empty = tmp_path / "plugins"
    empty.mkdir()
    airflow = {
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(empty),
    }
    listed = in_venv(venv, "airflow", "plugins", "--output", "json", cwd=tmp_path, **airflow)
    assert listed.returncode == 0, listed.stderr[-3000:]
    (page,) = [p for p in json.loads(listed.stdout) if p["name"] == "agentjobs_ui"]
    assert "airflow-provider-agentjobs" in page["source"]  # the wheel's entry point, not a file
    assert page["fastapi_apps"][0]["url_prefix"] == "/agentjobs"
    assert page["external_views"][0]["name"] == "Agent runs"


def test_the_wheel_carries_the_example_dags_and_the_task_decorator(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    examples = sorted(path.name for path in (REPO / "src" / "agentjobs" / "example_dags").glob("*.py"))
    assert {"example_taskflow_agent.py", "example_agent_operator.py"} <= set(examples)
    assert [name for name in examples if f"agentjobs/example_dags/{name}" not in names] == []
    assert "agentjobs/decorators/agent.py" in names

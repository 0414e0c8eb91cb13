"""The [agentjobs] section as a user meets it: `airflow config list` shows every option the code
reads, with the default the code uses, and what a deployment sets wins over that default."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentjobs import airflow_config
from agentjobs.airflow_config import OPTIONS, SECTION, declared, flag, provider_config, value
from tests.conftest import REPO

DECLARED = {option.name for option in OPTIONS}
READERS = {"value", "flag", "declared"}  # agentjobs.airflow_config's readers, by name
CONF_READS = {"get", "getboolean", "getint", "getfloat", "getlist", "getjson", "has_option"}
ENV_PREFIX = f"AIRFLOW__{SECTION.upper()}__"


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` assignments: how the source names an option or the section."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _text(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id, SECTION if node.id == "SECTION" else None)
    return None


def option_reads(source: str) -> Iterator[tuple[int, str | None]]:
    """(line, option name) of every read of an [agentjobs] option: `conf.get*("agentjobs", X)`
    and the readers of agentjobs.airflow_config. None: a name the walk cannot resolve."""
    tree = ast.parse(source)
    constants = _constants(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        owner = func.value if isinstance(func, ast.Attribute) else None
        if name in CONF_READS and isinstance(owner, ast.Name) and owner.id == "conf" and len(node.args) > 1:
            if _text(node.args[0], constants) == SECTION:
                yield node.lineno, _text(node.args[1], constants)
        elif name in READERS and (
            owner is None or (isinstance(owner, ast.Name) and owner.id == "airflow_config")
        ):
            yield node.lineno, _text(node.args[0], constants)


def test_every_option_the_source_reads_is_declared() -> None:
    reads, wrong = 0, []
    for path in sorted((REPO / "src" / "agentjobs").rglob("*.py")):
        if path.name == "airflow_config.py":
            continue  # the readers themselves: `declared(name)` of their own argument
        for line, option in option_reads(path.read_text(encoding="utf-8")):
            reads += 1
            if option not in DECLARED:
                wrong.append(f"{path.relative_to(REPO)}:{line} reads {option!r}")
    assert reads >= 3, "the walk finds run_files, run_files_conn_id and trace_content"
    assert not wrong, f"options read but not declared in agentjobs.airflow_config.OPTIONS: {wrong}"


def test_the_walk_catches_a_typo_and_a_read_it_cannot_name() -> None:
    source = (
        'SECTION = "agentjobs"\nFOLDER = "run_file"\n'
        "conf.get(SECTION, FOLDER)\n"
        'conf.getboolean("agentjobs", "trace_content")\n'
        'conf.get("core", "executor")\n'
        "airflow_config.value(some_name)\n"
    )
    assert list(option_reads(source)) == [(3, "run_file"), (4, "trace_content"), (6, None)]


def test_every_environment_variable_the_project_names_is_a_declared_option() -> None:
    pattern = re.compile(rf"{ENV_PREFIX}(\w+)")
    places = [*(REPO / "src").rglob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "docs").rglob("*.md")]
    places += [REPO / "docker-compose.yaml", REPO / "Dockerfile", *(REPO / "dags").rglob("*.py")]
    named = {
        (path.relative_to(REPO).as_posix(), match.lower())
        for path in places
        if path.is_file()
        for match in pattern.findall(path.read_text(encoding="utf-8"))
    }
    assert {name for _, name in named} & DECLARED, "the tests set AIRFLOW__AGENTJOBS__RUN_FILES"
    assert not [f"{where}: {name}" for where, name in named if name not in DECLARED]


def test_the_provider_info_declares_each_option_with_what_airflow_needs() -> None:
    section = provider_config()[SECTION]
    assert set(section["options"]) == DECLARED
    for name, entry in section["options"].items():
        assert set(entry) == {"description", "version_added", "type", "example", "default"}, name
        assert len(entry["description"]) > 60, f"{name}: say what a user needs to know"


def test_a_name_that_is_not_declared_fails_loudly() -> None:
    with pytest.raises(KeyError, match=r"\[agentjobs\] run_file is not a declared option.*run_files"):
        value("run_file")
    with pytest.raises(TypeError):
        flag("run_files")


def test_a_boolean_airflow_would_refuse_is_refused(monkeypatch) -> None:
    monkeypatch.setenv(declared("trace_content").env_var, "yes please")
    with pytest.raises(ValueError, match="trace_content = 'yes please' is not a boolean"):
        flag("trace_content")
    monkeypatch.setenv(declared("trace_content").env_var, "True  # prompts on spans")
    assert flag("trace_content") is True


def test_a_worker_without_airflow_core_reads_its_environment(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "airflow.configuration", None)  # import fails: task SDK only
    monkeypatch.delenv(declared("trace_content").env_var, raising=False)
    monkeypatch.setenv(declared("run_files").env_var, " s3://bucket/runs ")
    assert value("run_files") == "s3://bucket/runs"
    assert flag("trace_content") is False  # the declared default
    assert airflow_config.value("run_files_conn_id") == ""


_SHOW = (
    "from airflow.configuration import conf\n"
    "from agentjobs.airflow_config import value, flag\n"
    "print('CONF', conf.get('agentjobs', 'trace_content'), conf.has_option('agentjobs', 'run_files'))\n"
    "print('READ', flag('trace_content'), repr(value('run_files')), repr(value('run_files_conn_id')))\n"
)


def _isolated(home: Path, **env: str) -> dict[str, str]:
    """The test session's environment without any [agentjobs] setting, in its own AIRFLOW_HOME."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX) and k != "AIRFLOW_CONFIG"}
    return {**kept, "AIRFLOW_HOME": str(home), "PYTHONPATH": str(REPO / "src"), **env}


def _run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_airflow_config_list_shows_the_declared_defaults(tmp_path) -> None:
    env = _isolated(tmp_path / "home")
    listed = _run(
        [sys.executable, "-m", "airflow", "config", "list", "--section", SECTION, "--show-values"], env
    )
    lines = [line.strip() for line in listed.splitlines()]
    assert "[agentjobs]" in lines
    assert "trace_content = False" in lines
    # Unset options are listed commented out, as Airflow lists its own unset options.
    assert "# run_files =" in lines and "# run_files_conn_id =" in lines
    shown = _run([sys.executable, "-c", _SHOW], env).splitlines()
    assert "CONF False False" in shown
    assert "READ False '' ''" in shown


def test_what_a_deployment_sets_wins_over_the_default(tmp_path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "airflow.cfg").write_text("[agentjobs]\nrun_files_conn_id = aws_from_cfg\n", encoding="utf-8")
    env = _isolated(
        home,
        AIRFLOW__AGENTJOBS__TRACE_CONTENT="True",
        AIRFLOW__AGENTJOBS__RUN_FILES="s3://bucket/runs",
    )
    shown = _run([sys.executable, "-c", _SHOW], env).splitlines()
    assert "CONF True True" in shown
    assert "READ True 's3://bucket/runs' 'aws_from_cfg'" in shown

"""The package as Airflow and a user see it: entry point, provider info, import hygiene."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import distributions, entry_points
from pathlib import Path

import agentjobs
from tests.conftest import REPO


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_entry_point_leads_to_get_provider_info():
    found = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("agentjobs")]
    assert len(found) == 1, "pip install -e . registers the apache_airflow_provider entry point"
    assert found[0].load() is agentjobs.get_provider_info


def test_provider_info_declares_the_llm_connection_type():
    info = agentjobs.get_provider_info()
    assert info["package-name"] == "airflow-provider-agentjobs"
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "agentjobs_llm"
    assert {"model", "timeout", "prices", "structured_dialect"} <= set(conn_type["conn-fields"])
    from agentjobs.hooks.llm import LLMHook
    from agentjobs.hooks.llm_settings import EXTRA_FIELDS

    assert conn_type["hook-class-name"] == f"{LLMHook.__module__}.{LLMHook.__qualname__}"
    assert LLMHook.conn_type == "agentjobs_llm"
    # Every form field is a field the settings parser accepts, and the other way round.
    assert set(conn_type["conn-fields"]) == EXTRA_FIELDS


def test_the_provider_info_is_valid_for_airflows_schema():
    # Airflow's provider discovery validates every provider's info against this schema and raises
    # on the first error: a `config` option missing a key (version_added, example, ...) would stop
    # every Airflow process from loading the providers.
    import json

    import jsonschema

    from airflow import providers_manager

    schema_file = Path(providers_manager.__file__).with_name("provider_info.schema.json")
    jsonschema.validate(agentjobs.get_provider_info(), json.loads(schema_file.read_text(encoding="utf-8")))
    assert "agentjobs" in agentjobs.get_provider_info()["config"]


def test_airflow_providers_manager_lists_the_provider_and_its_hook():
    result = _run(
        "from airflow.providers_manager import ProvidersManager as P\n"
        "pm = P()\n"
        "print('FOUND', 'airflow-provider-agentjobs' in pm.providers)\n"
        "print('FOUND', pm.hooks['agentjobs_llm'].hook_class_name)\n"
        "print('FOUND', [n for n in pm.notification if n.startswith('agentjobs.')])\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = [line.split(maxsplit=1)[1] for line in result.stdout.splitlines() if line.startswith("FOUND ")]
    # `airflow providers notifications` lists the alert notifier (it imports, it is a notifier).
    notifier = "agentjobs.notifications.alert.JobAlertNotifier"
    assert found == ["True", "agentjobs.hooks.llm.LLMHook", f"[{notifier!r}]"]


def test_the_agent_runtime_imports_nothing_from_airflow():
    result = _run(
        "import sys\n"
        "import agentjobs.agent.runner, agentjobs.agent.loop, agentjobs.agent.tools\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "print(bad)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_importing_the_package_is_cheap():
    # Airflow's provider manager imports the package at start-up: no Airflow, SDK or YAML there.
    result = _run(
        "import sys, agentjobs\n"
        "print(sorted(m for m in ('airflow', 'openai', 'yaml', 'pydantic') if m in sys.modules))\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_every_module_imports_without_the_test_extras():
    # Block what only the [test] extra installs (and the [mcp] extra: toolsets import it when a
    # session opens), then import each module of the package.
    result = _run(
        "import importlib, pkgutil, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'pytest', 'moto', 'aiosmtpd', '_pytest', 'ruff',\n"
        "                                  'mcp', 'mcp_types'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import agentjobs\n"
        "names = [m.name for m in pkgutil.walk_packages(agentjobs.__path__, 'agentjobs.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print('IMPORTED', len(names))\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "IMPORTED" in result.stdout


def test_parsing_the_jobs_dag_file_leaves_the_model_sdk_unimported():
    # The DAG processor parses the file every few seconds and every task parses it at start-up;
    # the openai SDK alone took 0.7 s of a 1.0 s parse (bench/dag_parse.py). Tasks import it
    # when they call a model.
    dag_file = Path(__file__).resolve().parents[1] / "dags" / "agentjobs_jobs.py"
    result = _run(
        "import runpy, sys\n"
        f"namespace = runpy.run_path({str(dag_file)!r})\n"
        "print(sorted(k for k, v in namespace.items() if type(v).__name__ == 'DAG'))\n"
        "print('openai' in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dags, openai_imported = result.stdout.strip().splitlines()[-2:]
    assert "daily_digest" in dags
    assert openai_imported == "False"


def test_the_job_domain_imports_nothing_from_airflow_or_the_operators():
    # Dependencies flow one way: spec, period, digest render and check, health are the domain;
    # the DAG factory and the operators (agentjobs.operators) assemble it into Airflow.
    result = _run(
        "import importlib, pkgutil, sys\n"
        "import agentjobs.jobs\n"
        "names = [m.name for m in pkgutil.walk_packages(agentjobs.jobs.__path__, 'agentjobs.jobs.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "from agentjobs.jobs.spec import check_schedule\n"
        "check_schedule('@daily')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'airflow'\n"
        "             or m.startswith('agentjobs.operators'))\n"
        "print(len(names), bad)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    count, bad = result.stdout.strip().split(" ", 1)
    assert int(count) >= 7, "walk_packages found the domain modules"
    assert bad == "[]"


def test_no_import_in_the_job_domain_reaches_airflow_even_inside_a_function():
    # An import inside a function passes the test above but still reaches Airflow at run time.
    import ast

    reached = []
    for path in sorted((Path(__file__).resolve().parents[1] / "src" / "agentjobs" / "jobs").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            reached += [
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] == "airflow"
                or name.startswith(("agentjobs.operators", "agentjobs.hooks"))
            ]
    assert reached == []


def test_parsing_the_jobs_dag_file_leaves_the_senders_unimported():
    # Email's markdown renderer and Slack's blocks load when a delivery sends, not when the DAG
    # processor (every few seconds) or a task (at start-up) parses the file (bench/dag_parse.py).
    dag_file = Path(__file__).resolve().parents[1] / "dags" / "agentjobs_jobs.py"
    result = _run(
        "import runpy, sys\n"
        f"namespace = runpy.run_path({str(dag_file)!r})\n"
        "print(sorted(k for k, v in namespace.items() if type(v).__name__ == 'DAG'))\n"
        "print(sorted(m for m in ('markdown', 'agentjobs.delivery.email', 'agentjobs.delivery.slack')"
        " if m in sys.modules))\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dags, senders = result.stdout.strip().splitlines()[-2:]
    assert "daily_digest" in dags and "weekly_insights" in dags
    assert senders == "[]"


def test_the_installed_package_metadata_is_found_once():
    """An editable install puts src/ on sys.path, so package metadata left there (the
    `<name>.egg-info` setuptools used to write beside the code) is a second copy of the package:
    Airflow, which does not deduplicate distributions, would register the UI page twice and list
    the second as a plugin import error. setup.py writes it under build/ instead."""
    copies = list(distributions(name="airflow-provider-agentjobs"))
    stale = sorted(str(path) for path in (REPO / "src").glob("*.egg-info"))
    assert len(copies) == 1 and stale == [], f"delete {stale} (an older build left it) and reinstall"

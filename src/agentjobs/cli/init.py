"""`agentjobs init [DAGS_FOLDER]`: the shipped jobs, as files to edit, in an existing Airflow.

It writes into the DAGs folder the two DAG files (as dags/ of the repository) and, beside them,
agentjobs-project/include/{jobs,skills,demo}: the folder the DAG file reads when it is there, so
nothing needs an environment variable. It never overwrites a file unless told to (--force): a
user's edited spec is theirs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentjobs.hooks import ledger_hosts
from agentjobs.shipped import INIT_FOLDER, dag_files, shipped_project

SHIPPED_FOLDERS = ("jobs", "skills", "demo")
# The UI page's plugin class (agentjobs/ui/plugin.py): a file in the plugins folder naming it
# registers the page a second time.
PAGE_CLASS = "AgentJobsUiPlugin"
# The DAG processor parses only .py files, and the shipped data has none; this keeps it from
# looking into the folder at all, should a user add a helper script to a skill. Both lines are
# valid in both syntaxes of [core] dag_ignore_file_syntax: as globs (the default) they match
# every name and every dot-name; as regexps each matches any path.
AIRFLOWIGNORE = "# Written by `agentjobs init`: job specs and skills, no DAG files.\n[!.]*\n.*\n"


@dataclass
class InitResult:
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def configured_dags_folder() -> Path:
    """Airflow's [core] dags_folder, as the scheduler and the DAG processor read it."""
    from airflow.configuration import conf

    return Path(conf.get("core", "dags_folder")).expanduser()


def configured_plugins_folder() -> Path:
    """Airflow's [core] plugins_folder, as the api-server reads it."""
    from airflow.configuration import conf

    return Path(conf.get("core", "plugins_folder")).expanduser()


def stale_page_copies(plugins_folder: Path) -> list[Path]:
    """Copies of the UI page's old plugin file in the plugins folder: with the package's entry
    point, Airflow would register the page twice and refuse the second (an import error)."""
    if not plugins_folder.is_dir():
        return []
    files = (p for p in plugins_folder.rglob("*.py") if p.is_file() and p.stat().st_size < 1_000_000)
    return sorted(path for path in files if PAGE_CLASS in path.read_text(errors="replace"))


def page_steps(plugins_folder: Path) -> list[str]:
    copies = stale_page_copies(plugins_folder)
    if copies:
        names = ", ".join(str(path) for path in copies)
        return [
            f"Delete the old copy of the Agent runs page in your plugins folder ({names}): the "
            "installed package registers the page itself, and Airflow refuses it twice (a plugin "
            "import error). Then restart the api-server."
        ]
    return [
        "The Agent runs page (Browse → Agent runs) is registered by the installed package: restart "
        "the api-server to show it."
    ]


def planned_files(dags_folder: Path) -> Iterator[tuple[Path | str, Path]]:
    """(shipped file or text, destination) for every file `init` writes."""
    for dag_file in dag_files():
        yield dag_file, dags_folder / dag_file.name
    project = dags_folder / INIT_FOLDER
    yield AIRFLOWIGNORE, project / ".airflowignore"
    shipped = shipped_project() / "include"
    for name in SHIPPED_FOLDERS:
        for source in sorted((shipped / name).rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                yield source, project / "include" / source.relative_to(shipped)


def files_in_the_way(dags_folder: Path) -> list[Path]:
    """Files standing where `init` needs a folder (the DAGs folder itself, or one below it), found
    before anything is written: a failure half-way left the DAG files without their specs."""
    found: set[Path] = set()
    for _, target in planned_files(dags_folder):
        for folder in target.parents:
            if folder.exists():
                if not folder.is_dir():
                    found.add(folder)
                break
    return sorted(found)


def init_folder(dags_folder: Path, force: bool = False) -> InitResult:
    result = InitResult()
    for source, target in planned_files(dags_folder):
        if target.exists() and not force:
            result.kept.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            shutil.copyfile(source, target)
        else:
            target.write_text(source, encoding="utf-8")
        result.written.append(target)
    return result


def _conn_ids(value: Any) -> Iterator[str]:
    """Every `*conn_id` of a spec (sources, channels, alert, the model), however deep."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("conn_id") and isinstance(item, str):
                yield item
            else:
                yield from _conn_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _conn_ids(item)


# What a deployment with workers on several hosts sets: one ledger database they all reach.
SHARED_LEDGER_HOWTO = (
    "airflow connections add agentjobs_ledger --conn-type postgres --conn-host DB_HOST "
    '--conn-login DB_USER --conn-password "$DB_PASSWORD" --conn-schema agentjobs_ledger, then '
    f"{ledger_hosts.DEFAULT_CONN_ENV}=agentjobs_ledger in the environment of the scheduler, the DAG "
    "processor and every worker"
)


def ledger_steps(specs: list[Any]) -> list[str]:
    """Which delivery ledger the jobs use, and what to set when the configured executor may run
    their tasks on several hosts while that ledger is a file on one (their DAGs are refused)."""
    executors = ledger_hosts.configured_executors()
    spread = ledger_hosts.spreading(executors)
    single_host = ledger_hosts.single_host()
    jobs_by_place: dict[ledger_hosts.LedgerPlace, list[str]] = {}
    for spec in specs:
        place = ledger_hosts.place_at_parse(spec.ledger_conn_id)
        jobs_by_place.setdefault(place, []).append(spec.dag_id)
    steps = []
    for place, jobs in jobs_by_place.items():
        who = "every job" if len(jobs) == len(specs) else ", ".join(jobs)
        line = f"The delivery ledger of {who} is {place.describe()}"
        if not place.on_one_host:
            steps.append(f"{line}: every worker that reaches it shares it.")
        elif not spread:
            steps.append(
                f"{line}: fine while every task runs on this host ({', '.join(executors)}). Before "
                f"moving to workers on several hosts (CeleryExecutor, KubernetesExecutor) set up a "
                f"shared one, or these DAGs are refused: {SHARED_LEDGER_HOWTO}."
            )
        elif single_host:
            steps.append(
                f"{line}, and {ledger_hosts.SINGLE_HOST_ENV} says every worker of "
                f"{', '.join(spread)} runs on this one host: keep it so."
            )
        else:
            steps.append(
                f"{line}, but your executor {', '.join(spread)} runs tasks on several hosts, where a "
                f"retry would deliver again: these DAGs are refused until you set "
                f"{ledger_hosts.DEFAULT_CONN_ENV}=<a postgres connection every worker reaches>: "
                f"{SHARED_LEDGER_HOWTO} (or ledger_conn_id in a spec; or "
                f"{ledger_hosts.SINGLE_HOST_ENV}=1 if every worker runs on this one host)."
            )
    return steps


def next_steps(dags_folder: Path) -> list[str]:
    from agentjobs.jobs.spec import load_folder

    jobs = dags_folder / INIT_FOLDER / "include" / "jobs"
    loaded, broken = load_folder(jobs)
    specs = list(loaded.values())
    pools = sorted({spec.pool for spec in specs if spec.pool})
    llm = sorted({conn for spec in specs for conn in [spec.llm_conn_id, *spec.fallback_conn_ids]})
    others = sorted({c for spec in specs for c in _conn_ids(spec.model_dump())} - set(llm))
    steps = [f"Edit the job specs in {jobs} (sources, schedules, channels); each YAML file is a DAG."]
    # The shipped digest reads this project's own history ("."): no repository in a DAGs folder.
    project = jobs.parent.parent
    for spec in specs:
        if spec.sources.git is None:
            continue
        missing = [r for r in spec.sources.git.repos if not (project / r / ".git").exists()]
        if missing:
            steps.append(
                f"Point {spec.dag_id}'s sources.git.repos at your repositories: {', '.join(missing)} "
                f"(relative to {project}) is no git repository"
            )
    steps += [f'Create the LLM pool: airflow pools set {pool} 4 "LLM endpoint"' for pool in pools]
    steps += [
        f"Define the model connection {conn}: airflow connections add {conn} --conn-type agentjobs_llm "
        '--conn-host https://api.openai.com/v1 --conn-password "$OPENAI_API_KEY" '
        '--conn-extra \'{"model": "gpt-4o-mini"}\' (any OpenAI-compatible endpoint)'
        for conn in llm
    ]
    if others:
        steps.append(f"Define the connections the jobs read and deliver through: {', '.join(others)}")
    steps += ledger_steps(specs)
    if broken:
        steps.append(f"Fix the broken spec(s): {', '.join(str(b.path.name) for b in broken)}")
    steps.append("The DAG processor picks the jobs up at its next scan (airflow dags list shows them).")
    return steps + page_steps(configured_plugins_folder())


def run_init(args: argparse.Namespace) -> int:
    dags_folder = (args.dags_folder or configured_dags_folder()).resolve()
    print(f"agentjobs: initialising the DAGs folder {dags_folder}")
    blocked = files_in_the_way(dags_folder)
    if blocked:
        for path in blocked:
            print(
                f"agentjobs: {path} is a file, not a folder; move it, or give init another DAGS_FOLDER",
                file=sys.stderr,
            )
        print("agentjobs: nothing written", file=sys.stderr)
        return 2
    result = init_folder(dags_folder, force=args.force)
    for path in result.written:
        print(f"  wrote {path.relative_to(dags_folder)}")
    for path in result.kept:
        print(f"  kept  {path.relative_to(dags_folder)} (exists; --force overwrites it)")
    print(f"agentjobs: {len(result.written)} file(s) written, {len(result.kept)} kept. Next steps:")
    for number, step in enumerate(next_steps(dags_folder), 1):
        print(f"  {number}. {step}")
    return 0

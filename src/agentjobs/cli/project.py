"""Where the command finds the project (include/: skills, jobs, demo data) and the environment
it sets for Airflow before Airflow is first imported."""

from __future__ import annotations

import logging
import os
from pathlib import Path


def project_dir() -> Path:
    """The folder holding include/ (skills, jobs, demo data): $AGENTJOBS_PROJECT_DIR, the current
    folder or one above it, else what the package ships (its data, or the checkout of an editable
    install)."""
    configured = os.environ.get("AGENTJOBS_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "include" / "jobs" / "daily-digest.yaml").is_file():
            return folder
    from agentjobs.shipped import shipped_project

    try:
        return shipped_project()
    except RuntimeError as exc:
        raise SystemExit(f"{exc}; or run from the project folder or set AGENTJOBS_PROJECT_DIR") from None


def demo_repository(project: Path) -> Path | None:
    """The git repository the demo digest reads: this project's own history in a checkout, else
    the repository the command runs in, else none (an installed package has no history)."""
    import subprocess

    from agentjobs.shipped import is_checkout

    if is_checkout(project):
        return project
    found = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    )
    return Path(found.stdout.strip()) if found.returncode == 0 and found.stdout.strip() else None


def _errors_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


def prepare_environment(out: Path, project: Path, verbose: bool) -> None:
    """Airflow reads its configuration at import: everything is set before the first import."""
    home = out / ".airflow"
    (home / "dags").mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(home / "dags")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    # dag.test() runs every task in this process, on this host, whatever executor a deployment
    # configures: its SQLite ledger cannot split (hooks/ledger_hosts.py).
    os.environ["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    if not verbose:
        # The task runner logs each failed task's traceback (50-90 lines, and one more for the
        # run's alert task) at ERROR: it buried the one line the command prints with the reason.
        # --verbose shows it; agentjobs' own warnings are another namespace and still show.
        os.environ.setdefault("AIRFLOW__LOGGING__NAMESPACE_LEVELS", "task=CRITICAL")
        # dag.test() warns "No tasks to run. unrunnable tasks: ..." of the run's alert task on
        # every failure (it runs all the same). A stdlib logger, which namespace_levels does not
        # reach, and whose level Airflow's logging set-up resets (a filter it keeps).
        logging.getLogger("airflow.sdk.definitions.dag").addFilter(_errors_only)
    os.environ["AGENTJOBS_ARTIFACT_BASE"] = str(out)
    # The run's files go to the command's output folder, where it shows them from, not to a
    # deployment's run-file store (hooks/run_file_store.py) the shell may name.
    os.environ["AIRFLOW__AGENTJOBS__RUN_FILES"] = ""
    os.environ.setdefault("AGENTJOBS_SKILLS_DIR", str(project / "include" / "skills"))

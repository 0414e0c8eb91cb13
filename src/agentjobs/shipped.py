"""Where the shipped data lives: the skills, the job specs, the demo feed and the DAG files.

A wheel carries them as package data, agentjobs/shipped/, laid out as the repository is:
include/{skills,jobs,demo}/ and dags/ (setup.py copies them there at build time). An editable
install has no copy and reads them from the checkout it was installed from, where they are edited.
`agentjobs init` copies them into a DAGs folder, under INIT_FOLDER, for the user to edit.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DAG_FILES = ("agentjobs_jobs.py", "agentjobs_spec_errors.py")
# The folder `agentjobs init` writes beside the DAG files (include/ inside, as in the repository).
# The hyphen keeps it from ever being imported as a package from the DAGs folder on sys.path.
INIT_FOLDER = "agentjobs-project"


def shipped_project() -> Path:
    """The folder holding include/ and dags/ as shipped: the package data, else the checkout."""
    packaged = resources.files("agentjobs") / "shipped"
    if packaged.is_dir():
        # A wheel installs as plain files; only a zipped install would give no path.
        if not isinstance(packaged, Path):
            raise RuntimeError(f"agentjobs: the shipped data is not on the file system: {packaged}")
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "include" / "jobs").is_dir() and (checkout / "dags").is_dir():
        return checkout
    raise RuntimeError(
        "agentjobs: this installation carries no shipped data (agentjobs/shipped/) and is not a "
        "checkout; reinstall the package from its wheel"
    )


def skills_dir() -> Path:
    return shipped_project() / "include" / "skills"


def jobs_dir() -> Path:
    return shipped_project() / "include" / "jobs"


def demo_dir() -> Path:
    return shipped_project() / "include" / "demo"


def dag_files() -> list[Path]:
    return [shipped_project() / "dags" / name for name in DAG_FILES]


def is_checkout(project: Path) -> bool:
    """True for a git checkout (the repository or a worktree of it), not for installed data."""
    return (project / ".git").exists()

"""Build hook: the wheel and the sdist carry the shipped data (skills, job specs, demo feed and the
DAG files) as package data under agentjobs/shipped/, laid out as in this repository.

They stay at the repository top, where the Airflow project layout and the CLI read them; this
copies them at build time so `pip install airflow-provider-agentjobs` works without a checkout.
An editable install copies nothing: it reads the checkout (agentjobs/shipped.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.egg_info import egg_info

HERE = Path(__file__).resolve().parent
SHIPPED_FOLDERS = ("include/skills", "include/jobs", "include/demo")
SHIPPED_DAG_FILES = ("dags/agentjobs_jobs.py", "dags/agentjobs_spec_errors.py")


class BuildPyWithShippedData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "agentjobs" / "shipped"
        for folder in SHIPPED_FOLDERS:
            shutil.copytree(
                HERE / folder,
                target / folder,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        for dag_file in SHIPPED_DAG_FILES:
            (target / dag_file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(HERE / dag_file, target / dag_file)


class EggInfoOutsideSrc(egg_info):
    """The build's `<name>.egg-info` under build/, not src/: an editable install puts src/ on
    sys.path, where a second copy of the package's metadata would make Airflow (which does not
    deduplicate distributions) register the UI plugin twice and show an import error."""

    def finalize_options(self) -> None:
        if self.egg_base is None:
            base = HERE / "build"
            base.mkdir(exist_ok=True)
            self.egg_base = str(base)
        super().finalize_options()


setup(cmdclass={"build_py": BuildPyWithShippedData, "egg_info": EggInfoOutsideSrc})

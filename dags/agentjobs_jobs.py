"""Every job in include/jobs/*.yaml as an Airflow DAG (a new job is a YAML file and a skill folder).

The words "airflow" and "dag" in this file matter: the DAG processor's safe mode skips
Python files that mention neither.

Set AGENTJOBS_JOBS_DIR to read the specs from elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from agentjobs.jobs.factory import dags_from_folder

_JOBS_DIR = Path(
    os.environ.get("AGENTJOBS_JOBS_DIR") or Path(__file__).resolve().parent.parent / "include" / "jobs"
)

globals().update(dags_from_folder(_JOBS_DIR))

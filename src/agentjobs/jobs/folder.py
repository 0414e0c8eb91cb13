"""Where the job specs are: the jobs folder a DAG file reads (no Airflow).

The DAG files, the UI page (which must list the same jobs the DAG processor built) and the
CLI all ask here, so they agree on one folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from agentjobs.shipped import INIT_FOLDER

JOBS_DIR_ENV = "AGENTJOBS_JOBS_DIR"


def jobs_folder(dag_file: str) -> Path:
    """$AGENTJOBS_JOBS_DIR; else the jobs folder `agentjobs init` wrote beside `dag_file`
    (agentjobs-project/include/jobs in the DAGs folder); else include/jobs beside the dags/
    folder holding `dag_file` (the project layout of this repository)."""
    configured = os.environ.get(JOBS_DIR_ENV)
    if configured:
        return Path(configured)
    dags = Path(dag_file).resolve().parent
    initialised = dags / INIT_FOLDER / "include" / "jobs"
    return initialised if initialised.is_dir() else dags.parent / "include" / "jobs"

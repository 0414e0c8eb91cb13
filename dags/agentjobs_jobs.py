"""Every job in include/jobs/*.yaml as an Airflow DAG (a new job is a YAML file and a skill folder).

The words "airflow" and "dag" in this file matter: the DAG processor's safe mode skips
Python files that mention neither. A broken spec leaves out only its own job; it shows as an
import error of agentjobs_spec_errors.py and in the agentjobs_health DAG's alert.

The specs are read from agentjobs-project/include/jobs beside this file when it is there
(what `agentjobs init` writes), else from include/jobs beside its folder; set
AGENTJOBS_JOBS_DIR to read them from elsewhere.
"""

from __future__ import annotations

# Airflow modules the jobs' DAGs are built with (the fan-out DAGs' mapped task groups, the
# agent tasks' retry policy), named here so the DAG processor imports them once before it
# forks each parse (parsing_pre_import_modules looks for airflow.* imports in the DAG file
# itself, and skips one that is missing), instead of every parse importing them again.
import airflow.sdk.definitions.decorators.task_group

try:
    import airflow.sdk.definitions.retry_policy  # noqa: F401
except ImportError:  # Airflow < 3.3 has no retry policies (docs/airflow-versions.md)
    pass

from agentjobs.operators.factory import dags_from_folder, jobs_folder

globals().update(dags_from_folder(jobs_folder(__file__)))

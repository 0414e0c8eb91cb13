"""Every job in include/jobs/*.yaml as an Airflow DAG (a new job is a YAML file and a skill folder).

The words "airflow" and "dag" in this file matter: the DAG processor's safe mode skips
Python files that mention neither. A broken spec leaves out only its own job; it shows as an
import error of agentjobs_spec_errors.py and in the agentjobs_health DAG's alert.

The specs are read from agentjobs-project/include/jobs beside this file when it is there
(what `agentjobs init` writes), else from include/jobs beside its folder; set
AGENTJOBS_JOBS_DIR to read them from elsewhere.
"""

from __future__ import annotations

# An Airflow module the jobs' DAGs are built with (the fan-out DAGs' mapped task groups), named
# here so the DAG processor imports it once before it forks each parse, instead of every parse
# importing it again: parsing_pre_import_modules reads the airflow.* imports among this file's
# top-level statements. The agent tasks' retry policy module (Airflow 3.3) cannot be named so:
# only a statement inside `try` could import it without failing the file on Airflow 3.2, and the
# pre-import does not look inside one; each parse imports it (~2 ms, bench/dag_parse.py).
import airflow.sdk.definitions.decorators.task_group  # noqa: F401

from agentjobs.operators.factory import dags_from_folder, jobs_folder

globals().update(dags_from_folder(jobs_folder(__file__)))

"""The job specs in include/jobs/*.yaml that do not load, as one Airflow import error.

agentjobs_jobs.py builds a DAG for every good spec and leaves the broken ones out. This file
defines no DAG: it raises, naming each broken spec's file, field and fix, so they appear
where an operator looks first, the UI's "DAG Import Errors". (An import error of
agentjobs_jobs.py itself would mark every job's DAG stale, not just the broken one.)
The words "airflow" and "dag" keep the DAG processor's safe mode from skipping it.

The specs are read from agentjobs-project/include/jobs beside this file when it is there
(what `agentjobs init` writes), else from include/jobs beside its folder; set
AGENTJOBS_JOBS_DIR to read them from elsewhere.
"""

from __future__ import annotations

from agentjobs.operators.factory import jobs_folder, raise_for_broken_specs

raise_for_broken_specs(jobs_folder(__file__))

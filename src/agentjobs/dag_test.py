"""Run a DAG built in code once, in-process, with `dag.test()`.

Airflow 3.3's `dag.test()` only runs DAGs it finds serialized in the metadata DB (it
looks in the DAG bundles), so a DAG built from a spec at run time is written there
first, exactly as the DAG processor would write it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class NothingRan(RuntimeError):
    """A one-off run that Airflow would (or did) mark successful without running a task."""


def register_dag(dag: Any, bundle_name: str = "dags-folder") -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    with create_session() as session:
        update_dag_parsing_results_in_db(
            bundle_name, None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )


def run_dag_once(dag: Any, **test_kwargs: Any) -> Any:
    """Register `dag`, run it with dag.test(**test_kwargs) and return the DagRun.

    dag.test() fires no deadline alerts, and in Airflow 3.3.2 it crashes at the end of a run
    of a DAG that has one ('dict' object has no attribute 'hex'), so the deadline is dropped
    for this in-process run; the scheduler, not dag.test, watches deadlines.

    Raises NothingRan, before starting, for a logical date before the DAG's start_date, and
    after the run when no task ran at all: Airflow 3.3 creates such a run and marks it
    successful without running a task, which a caller would take for a finished job.
    """
    logical: datetime | None = test_kwargs.get("logical_date")
    if logical is not None and dag.start_date is not None and logical < dag.start_date:
        raise NothingRan(
            f"{dag.dag_id}: the logical date {logical.isoformat()} is before the DAG's start_date "
            f"{dag.start_date.isoformat()}, so Airflow would mark the run successful without running "
            "a task; run a later date or build the DAG with an earlier start_date"
        )
    dag.deadline = None
    register_dag(dag)
    run = dag.test(**test_kwargs)
    if all(ti.state is None for ti in run.get_task_instances()):
        raise NothingRan(f"{dag.dag_id}: Airflow ran no task of the run at {run.logical_date}")
    return run

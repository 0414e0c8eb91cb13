"""Run a DAG built in code once, in-process, with `dag.test()`.

Airflow 3.3's `dag.test()` only runs DAGs it finds serialized in the metadata DB (it
looks in the DAG bundles), so a DAG built from a spec at run time is written there
first, exactly as the DAG processor would write it.
"""

from __future__ import annotations

from typing import Any


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
    """
    dag.deadline = None
    register_dag(dag)
    return dag.test(**test_kwargs)

"""The job's DAG made ready for one `dag.test()` run of the command (`digest` and `run` alike)."""

from __future__ import annotations

from typing import Any


def prepared_dag(spec: Any) -> tuple[Any, list[str]]:
    """The job's DAG on a ready metadata DB (its LLM pool created), and the list its task
    failures are collected in ("task: Error: message"), for the one line the command prints."""
    from airflow.utils import db

    from agentjobs.operators.factory import build_dag

    db.initdb()
    if spec.pool:
        from agentjobs.pools import ensure_pool

        # As a deployment would: the job's LLM pool exists before its first run.
        if ensure_pool(spec.pool):
            print(f"agentjobs: created the Airflow pool {spec.pool!r} (1 slot) for model calls")
    dag = build_dag(spec)
    failures: list[str] = []

    def remember(context: Any) -> None:
        exc = context.get("exception")
        failures.append(
            f"{context['ti'].task_id}: {type(exc).__name__}: {exc}" if exc else context["ti"].task_id
        )

    from agentjobs.operators.run_alert import ALERT_TASK_ID

    for task in dag.tasks:
        # The run's alert task fails only to mark the run failed; the reason is its upstream's.
        if task.task_id != ALERT_TASK_ID:
            # Beside the DAG's own (RecordFailure writes the reason to the run log, where the
            # alert task reads it; replaced, the alert said "no reason recorded (the run log
            # could not be written)" for every failure).
            task.on_failure_callback = [*_callbacks(task.on_failure_callback), remember]
    return dag, failures


def _callbacks(found: Any) -> list[Any]:
    """A task's failure callbacks as a list (Airflow takes one callable, a list, or none)."""
    if found is None:
        return []
    return list(found) if isinstance(found, (list, tuple)) else [found]

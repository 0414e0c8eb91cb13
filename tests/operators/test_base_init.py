"""Our operators run Airflow's default_args and Params merge once a task (operators/base_init.py),
and still take every default the DAG gives them: a job DAG's tasks retry, wait and report failures
as its spec says, and what a task sets itself wins, also in the DAG the scheduler reads back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentjobs.jobs.spec import load_folder, load_spec
from agentjobs.operators.factory import dags_from_folder

REPO = Path(__file__).resolve().parents[2]
JOBS = REPO / "include" / "jobs"


def test_every_task_of_the_shipped_jobs_copies_its_dags_params_once_and_keeps_the_specs_defaults(monkeypatch):
    import airflow.sdk.bases.operator as airflow_operator

    from agentjobs.operators.run_alert import RunAlertOperator
    from agentjobs.operators.run_log import RecordFailure

    merged = airflow_operator.get_merged_defaults
    merges: list[object] = []

    def counted(*args, **kwargs):
        merges.append(args)
        return merged(*args, **kwargs)

    monkeypatch.setattr(airflow_operator, "get_merged_defaults", counted)
    dags = dags_from_folder(JOBS)
    tasks = [task for dag in dags.values() for task in dag.tasks]
    # One merge (one deep copy of the DAG's Params) a task: its own class's __init__ wrapper.
    assert len(merges) == len(tasks) > 50
    specs = {spec.dag_id: spec for spec in load_folder(JOBS)[0].values()}
    for dag_id, spec in specs.items():
        for task in dags[dag_id].tasks:
            where = f"{dag_id}.{task.task_id}"
            assert task.owner == "agentjobs", where
            assert task.retries == spec.retries, where
            assert task.retry_delay == timedelta(seconds=spec.retry_delay_s), where
            assert task.retry_exponential_backoff, where
            assert task.params["caps"] == spec.caps.model_dump(), where
            if isinstance(task, RunAlertOperator):  # the run's alert reports nothing of its own
                assert not task.on_failure_callback, where
            else:
                assert [type(c) for c in task.on_failure_callback] == [RecordFailure], where


@pytest.mark.parametrize("round_trip", [False, True], ids=["built", "read back by the scheduler"])
def test_a_tasks_own_value_wins_over_the_dags_default_args(round_trip):
    from airflow.sdk import DAG

    from agentjobs.operators.fetch import FetchSourceOperator
    from agentjobs.operators.validate import ValidateDigestOperator

    spec = load_spec(JOBS / "daily-digest.yaml")
    defaults = {"owner": "ops", "retries": 3, "retry_delay": timedelta(minutes=7)}
    with DAG(
        "own_values", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC), default_args=defaults
    ) as dag:
        fetch = FetchSourceOperator(task_id="fetch_git", source="git", spec=spec, retries=0, owner="me")
        fetch >> ValidateDigestOperator(task_id="validate", spec=spec)
    if round_trip:
        from airflow.serialization.serialized_objects import DagSerialization

        dag = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    fetch, validate = dag.get_task("fetch_git"), dag.get_task("validate")
    assert (fetch.retries, fetch.owner, fetch.retry_delay) == (0, "me", timedelta(minutes=7))
    assert (validate.retries, validate.owner, validate.retry_delay) == (3, "ops", timedelta(minutes=7))

"""run_dag_once, the one-off run behind the command line and the tests: a run that would run
nothing is refused rather than reported as a success."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

START = datetime(2026, 5, 1, tzinfo=UTC)


def marker_dag(dag_id: str, marker: Path | None):
    from airflow.sdk import DAG, task

    with DAG(dag_id, schedule=None, start_date=START) as dag:
        if marker is not None:

            @task
            def work() -> None:
                marker.write_text("ran")

            work()
    return dag


def test_a_dag_is_registered_and_run_once_in_process(airflow_db, tmp_path):
    from airflow.models.serialized_dag import SerializedDagModel

    from agentjobs.dag_test import run_dag_once

    run = run_dag_once(
        marker_dag("dag_test_runs", tmp_path / "ran"), logical_date=datetime(2026, 5, 2, tzinfo=UTC)
    )
    assert run.state == "success" and (tmp_path / "ran").read_text() == "ran"
    assert SerializedDagModel.get("dag_test_runs") is not None  # where dag.test() looks for it


def test_a_run_with_no_task_to_run_is_not_a_success(airflow_db):
    from agentjobs.dag_test import NothingRan, run_dag_once

    with pytest.raises(NothingRan, match="dag_test_empty: Airflow ran no task of the run at 2026-05-02"):
        run_dag_once(marker_dag("dag_test_empty", None), logical_date=datetime(2026, 5, 2, tzinfo=UTC))


def test_a_day_before_the_start_date_is_refused_naming_both_dates_and_the_fix(airflow_db, tmp_path):
    from airflow.models.serialized_dag import SerializedDagModel

    from agentjobs.dag_test import NothingRan, run_dag_once

    with pytest.raises(NothingRan) as err:
        run_dag_once(
            marker_dag("dag_test_early", tmp_path / "ran"), logical_date=datetime(2026, 4, 30, tzinfo=UTC)
        )
    assert str(err.value) == (
        "dag_test_early: the logical date 2026-04-30T00:00:00+00:00 is before the DAG's start_date "
        "2026-05-01T00:00:00+00:00, so Airflow would mark the run successful without running a task; "
        "run a later date or build the DAG with an earlier start_date"
    )
    assert not (tmp_path / "ran").exists()
    assert SerializedDagModel.get("dag_test_early") is None  # refused before anything was written

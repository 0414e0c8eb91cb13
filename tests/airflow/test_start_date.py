"""What Airflow 3.3 does with days before a DAG's start_date, as the one-off commands and the
manual's backfill item (docs/operations.md) rely on: a one-off run of such a day runs nothing (so run_dag_once
refuses it before starting), a backfill over such days runs them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

START = datetime(2026, 11, 1, tzinfo=UTC)


def daily_dag(dag_id: str, marker: Path):
    from airflow.sdk import DAG, task
    from airflow.timetables.trigger import CronTriggerTimetable

    with DAG(dag_id, schedule=CronTriggerTimetable("0 3 * * *", timezone="UTC"), start_date=START) as dag:

        @task
        def work() -> None:
            marker.write_text("ran")

        work()
    return dag


def test_a_one_off_run_before_the_start_date_is_refused_before_it_starts(airflow_db, tmp_path):
    from agentjobs.dag_test import NothingRan, run_dag_once

    marker = tmp_path / "ran"
    dag = daily_dag("start_date_one_off", marker)
    with pytest.raises(NothingRan, match=r"before the DAG's start_date 2026-11-01T00:00:00\+00:00"):
        run_dag_once(dag, logical_date=datetime(2025, 9, 11, 3, tzinfo=UTC))
    assert not marker.exists()
    run = run_dag_once(dag, logical_date=datetime(2026, 11, 2, 3, tzinfo=UTC))  # from start_date on: runs
    assert run.state == "success" and marker.read_text() == "ran"


def test_a_backfill_over_days_before_the_start_date_creates_their_runs_and_tasks(airflow_db, tmp_path):
    """`airflow backfill create` (this function behind it) is bounded by its own dates, not the DAG's."""
    from airflow.models import DagRun
    from airflow.models.backfill import _create_backfill
    from airflow.utils.session import create_session

    from agentjobs.dag_test import register_dag

    register_dag(daily_dag("start_date_backfill", tmp_path / "ran"))
    _create_backfill(
        dag_id="start_date_backfill",
        from_date=datetime(2025, 9, 10, tzinfo=UTC),
        to_date=datetime(2025, 9, 12, tzinfo=UTC),
        max_active_runs=10,
        reverse=False,
        dag_run_conf=None,
        triggering_user_name="test",
    )
    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == "start_date_backfill").all()
        created = {
            str(run.logical_date.date()): [ti.task_id for ti in run.get_task_instances(session=session)]
            for run in runs
        }
    # Each run has its task instance to schedule: unlike a one-off run, a backfill run of a day
    # before start_date is not left empty.
    assert created == {"2025-09-10": ["work"], "2025-09-11": ["work"]}

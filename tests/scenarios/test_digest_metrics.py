"""A job's deliveries are counted through Airflow's metrics backend: sent once, then skipped."""

from __future__ import annotations

import pytest

from tests.airflow.conftest import run_dag
from tests.scenarios.digest_job import LOGICAL, job, rerun, states  # noqa: F401 (job: a fixture)

pytestmark = pytest.mark.airflow


def test_deliveries_are_counted_sent_then_skipped_on_a_rerun(job, statsd_server):  # noqa: F811
    from agentjobs.operators.factory import build_dag as build_job_dag

    dag = build_job_dag(job)
    run = run_dag(dag, logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    statsd_server.settle()
    for channel in ("email", "slack", "s3"):
        assert (
            statsd_server.total(
                "airflow.agentjobs.deliveries", job=job.dag_id, channel=channel, outcome="sent"
            )
            == 1
        )
    rerun(dag)
    statsd_server.settle()
    assert statsd_server.total("airflow.agentjobs.deliveries", job=job.dag_id, outcome="skipped") == 3
    assert statsd_server.total("airflow.agentjobs.deliveries", job=job.dag_id, outcome="sent") == 3

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


@pytest.fixture
def otel_metrics(otlp_receiver, monkeypatch):
    """Airflow's `[metrics] otel_on` pointed at the OTLP receiver (StatsD off), the backend
    initialised the way the task runner does at a task's start."""
    from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics import stats_utils
    from opentelemetry import metrics as otel

    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for key, value in {
        "STATSD_ON": "False",
        "OTEL_ON": "True",
        "OTEL_HOST": otlp_receiver.host,
        "OTEL_PORT": str(otlp_receiver.port),
        "OTEL_PREFIX": "airflow",
    }.items():
        monkeypatch.setenv(f"AIRFLOW__METRICS__{key}", value)
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    try:
        yield otlp_receiver
    finally:
        # The backend made its meter provider on first use (a task's). Shut down while the
        # receiver still answers, then replaced by one without readers (the way Airflow replaces
        # a forked worker's): Airflow's flush at the process's exit then has nothing to send.
        import opentelemetry.metrics._internal as otel_internal
        from opentelemetry.sdk.metrics import MeterProvider

        provider = otel.get_meter_provider()
        if hasattr(provider, "shutdown"):
            provider.shutdown()
        otel_internal._METER_PROVIDER_SET_ONCE._done = False
        otel_internal._METER_PROVIDER = None
        otel.set_meter_provider(MeterProvider())
        stats.initialize(factory=NoStatsLogger, export_legacy_names=False)


def test_the_agent_counters_reach_an_otlp_receiver_through_airflows_otel_metrics(job, otel_metrics):  # noqa: F811
    from opentelemetry import metrics as otel

    from agentjobs.operators.factory import build_dag as build_job_dag

    receiver = otel_metrics
    run = run_dag(build_job_dag(job), logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    otel.get_meter_provider().force_flush()  # what the worker does at its exit
    tags = {"job": job.dag_id, "task": "summarize"}
    assert receiver.total("airflow.agentjobs.agent_runs", outcome="success", **tags) == 1
    assert receiver.total("airflow.agentjobs.iterations", **tags) == 1
    assert receiver.total("airflow.agentjobs.tokens", direction="in", **tags) == 400
    assert receiver.total("airflow.agentjobs.tokens", direction="out", **tags) == 60
    assert receiver.total("airflow.agentjobs.cost_microusd", **tags) == 400 * 1 + 60 * 4
    assert receiver.total("airflow.agentjobs.deliveries", job=job.dag_id, outcome="sent") == 3

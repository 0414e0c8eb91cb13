"""A task waiting for the connection's rate limiter defers to the real triggerer instead of holding
a worker slot, and its resume replays the call it already paid for (one try, no call twice)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.fakes.model_server import reply, tool_call
from tests.scheduler.conftest import SchedulerServices
from tests.scheduler.harness import AirflowCluster
from tests.scheduler.jobs import TODAY, job_spec, logical_date_of, make_sources, short_sha, unique_id

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(300)]

REDIS_URL = "redis://127.0.0.1:6379/0"
USAGE = {"prompt_tokens": 100, "completion_tokens": 10}


def test_a_task_waiting_for_the_limiter_defers_and_resumes_without_paying_twice(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    import redis

    services, api = scheduler_services, airflow_cluster.api
    day = TODAY - timedelta(days=21)
    sources = make_sources(tmp_path, [day])
    del sources["rss"]
    repo = sources["git"]["repos"][0]
    digest = (
        f"# Daily digest — {day}\n\n## Commits\n\n- {short_sha(repo, day)} {day}: tune the caps\n\n"
        "## Tech highlights\n\nNothing today.\n\n## Action items (if any)\n\nNone today.\n"
    )
    # A connection of its own (its own bucket): 6 requests a minute, so the second call's slot is
    # about 10 s after the first, past the 5 s from which the task defers.
    conn_id = unique_id("llm_limited")
    base = services.connections[services.llm_conn_id]
    api.create_connection(
        conn_id,
        {**base, "extra": {**base["extra"], "requests_per_minute": 6, "rate_limit_store": REDIS_URL}},
    )
    spec = job_spec(
        unique_id("sched_limiter_defer"),
        services,
        sources,
        day,
        llm_conn_id=conn_id,
        mode="loop",
        caps={"timeout_s": 120},
    )
    dag_id = airflow_cluster.add_job(spec)
    services.reset_model()
    try:
        services.model.script(
            tool_call("write_file", {"path": "digest.md", "content": digest}, **USAGE),
            reply('Written.\nRESULT: {"path": "digest.md", "items": 1}', **USAGE),
        )
        api.wait_for_dag(dag_id)
        run_id = api.trigger(dag_id, logical_date=logical_date_of(day))["dag_run_id"]
        with airflow_cluster.timed("limiter wait: deferral to success"):
            api.wait_for_runs(dag_id, [run_id], timeout=150)
        requests = list(services.model.requests)
    finally:
        services.reset_model()
        redis.Redis.from_url(REDIS_URL).delete(f"agentjobs:ratelimit:{conn_id}")

    (only,) = api.tries(dag_id, run_id, "summarize")  # a deferral keeps the try
    assert only["state"] == "success", only
    assert len(requests) == 2  # the first call replayed on resume, not asked again
    log = airflow_cluster.task_log_tail(dag_id, run_id, "summarize", 1, lines=400)
    assert "deferring to the triggerer" in log and "Replayed 1 model call(s)" in log, log
    usage = api.xcom(dag_id, run_id, "summarize", key="usage")
    assert usage["iterations"] == 2 and usage["total_tokens"] == 2 * 110, usage
    assert api.task_states(dag_id, run_id)["validate"] == "success"

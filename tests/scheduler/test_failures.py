"""Unattended failures under the real scheduler: a hung model, transient and permanent errors,
empty or broken output. Each ends the way the operator expects, with one alert at most.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import error, reply, respond, slow, tool_call
from tests.scheduler.conftest import SchedulerServices, answer_structured
from tests.scheduler.harness import AirflowCluster, poll
from tests.scheduler.jobs import (
    ONCALL,
    TODAY,
    alert_emails,
    body_of,
    job_spec,
    logical_date_of,
    make_sources,
    quiet_sources,
    short_sha,
    unique_id,
)

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(300)]

HUNG_TIMEOUT_S = 8  # the job's caps.timeout_s: the budget's clock
RETRY_DELAY_S = 2


def _when(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def _only_alert(services: SchedulerServices, dag_id: str, day: datetime, task: str) -> str:
    """The one alert of a failed run: its subject names the job, the logical date and the task."""
    alerts = [(m, e) for m, e in alert_emails(services, dag_id) if day.isoformat() in str(m["Subject"])]
    assert len(alerts) == 1, [str(m["Subject"]) for m, _ in alert_emails(services, dag_id)]
    message, envelope = alerts[0]
    assert str(message["Subject"]).strip() == f"[agentjobs] {dag_id} {day.isoformat()}: {task} failed"
    assert envelope.rcpt_tos == [ONCALL]
    return body_of(message)


def test_a_model_that_never_answers_ends_at_the_time_cap_and_the_next_run_starts(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    services, api = scheduler_services, airflow_cluster.api
    days = [TODAY - timedelta(days=n) for n in (12, 11)]
    # A connection that would wait 5 minutes for one call: only the budget's clock can end it soon.
    patient = unique_id("agentjobs_llm_patient")
    base = services.connections[services.llm_conn_id]
    api.create_connection(patient, {**base, "extra": {**base["extra"], "timeout": 300}})
    dag_id = airflow_cluster.add_job(
        job_spec(
            unique_id("sched_hung"),
            services,
            make_sources(tmp_path, days),
            days[0],
            patient,
            caps={"timeout_s": HUNG_TIMEOUT_S},
            retry_delay_s=RETRY_DELAY_S,
        )
    )
    services.reset_model()
    try:
        # The first call never gets an answer (well past every timeout); the next one does.
        services.model.script(slow(600, respond(answer_structured)))
        api.wait_for_dag(dag_id)
        first = api.trigger(dag_id, logical_date=logical_date_of(days[0]))["dag_run_id"]
        poll(lambda: api.dag_run(dag_id, first)["state"] == "running", timeout=60, what=f"{first} running")
        second = api.trigger(dag_id, logical_date=logical_date_of(days[1]))["dag_run_id"]
        # max_active_runs=1: tomorrow's run waits for today's instead of running beside it.
        poll(
            lambda: services.model.calls >= 1,
            timeout=60,
            what="the first run's model call",
        )
        assert api.dag_run(dag_id, second)["state"] == "queued"
        with airflow_cluster.timed("hung model: both runs"):
            hung, nxt = api.wait_for_runs(dag_id, [first, second], timeout=150, expect=None)
        calls = services.model.calls
    finally:
        services.reset_model()

    assert hung["state"] == "failed" and nxt["state"] == "success", (hung["state"], nxt["state"])
    (summarize,) = api.tries(dag_id, first, "summarize")
    # One try: running out of time is the budget's cap, permanent, not a flaky endpoint.
    assert summarize["state"] == "failed", summarize
    took = _when(summarize["end_date"]) - _when(summarize["start_date"])
    # The budget's clock ended it (start-up and the DAG parse come on top), not the connection's.
    assert timedelta(seconds=HUNG_TIMEOUT_S) <= took < timedelta(seconds=HUNG_TIMEOUT_S + 40), took
    body = _only_alert(services, dag_id, logical_date_of(days[0]), "summarize")
    assert "BudgetExceeded" in body and "timeout_s" in body, body
    # The next run started once the hung one had ended, and its call was answered.
    assert _when(nxt["start_date"]) >= _when(hung["end_date"])
    assert calls == 2
    assert len(alert_emails(services, dag_id)) == 1


def test_transient_errors_retry_with_exponential_backoff(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    services, api = scheduler_services, airflow_cluster.api
    day = TODAY - timedelta(days=13)
    # A connection whose calls time out after 3 s: a slow endpoint is one transient failure.
    conn_id = unique_id("agentjobs_llm_quick")
    base = services.connections[services.llm_conn_id]
    api.create_connection(conn_id, {**base, "extra": {**base["extra"], "timeout": 3}})
    spec = job_spec(
        unique_id("sched_transient"),
        services,
        make_sources(tmp_path, [day]),
        day,
        conn_id,
        retries=3,
        retry_delay_s=RETRY_DELAY_S,
    )
    dag_id = airflow_cluster.add_job(spec)
    services.reset_model()
    try:
        services.model.script(
            error(429, "Rate limit reached for requests"),
            error(503, "The server is overloaded"),
            slow(20, respond(answer_structured)),  # outlasts the 3 s request timeout
            respond(answer_structured),
        )
        api.wait_for_dag(dag_id)
        run_id = api.trigger(dag_id, logical_date=logical_date_of(day))["dag_run_id"]
        with airflow_cluster.timed("transient errors: 3 retries"):
            api.wait_for_runs(dag_id, [run_id], timeout=150)
        calls = services.model.calls
    finally:
        services.reset_model()

    tries = api.tries(dag_id, run_id, "summarize")
    # Tries 1-3 failed (each was then up for retry); the fourth succeeded.
    assert [(t["try_number"], t["state"]) for t in tries] == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
        (4, "success"),
    ]
    assert calls == 4
    # Exponential backoff: each pause at least doubles the retry delay of the one before.
    pauses = [
        _when(later["start_date"]) - _when(earlier["end_date"])
        for earlier, later in itertools.pairwise(tries)
    ]
    for n, pause in enumerate(pauses):
        assert pause >= timedelta(seconds=RETRY_DELAY_S * 2**n), pauses
    assert alert_emails(services, dag_id) == []  # it recovered: nobody is paged


@pytest.mark.parametrize(
    ("failure", "conf", "reason"),
    [
        (error(401, "Incorrect API key provided"), {}, "401"),
        (error(400, "Invalid value for 'response_format'"), {}, "400"),
        # 460 tokens on the first reply against a cap of 100 set on this run.
        (respond(answer_structured), {"caps": {"max_total_tokens": 100}}, "BudgetExceeded"),
    ],
    ids=["401", "400", "budget"],
)
def test_permanent_errors_fail_at_once_with_one_alert(
    airflow_cluster: AirflowCluster,
    scheduler_services: SchedulerServices,
    tmp_path: Path,
    failure: Any,
    conf: dict[str, Any],
    reason: str,
) -> None:
    services, api = scheduler_services, airflow_cluster.api
    day = TODAY - timedelta(days=14)
    spec = job_spec(
        unique_id("sched_permanent"),
        services,
        make_sources(tmp_path, [day]),
        day,
        retry_delay_s=RETRY_DELAY_S,
    )
    dag_id = airflow_cluster.add_job(spec)
    services.reset_model()
    try:
        services.model.script(failure)
        services.model.default_step = respond(answer_structured)  # a retry would succeed
        api.wait_for_dag(dag_id)
        run_id = api.trigger(dag_id, logical_date=logical_date_of(day), conf=conf)["dag_run_id"]
        (run,) = api.wait_for_runs(dag_id, [run_id], timeout=120, expect="failed")
        calls = services.model.calls
    finally:
        services.reset_model()

    assert api.task_states(dag_id, run_id)["summarize"] == "failed"
    (only_try,) = api.tries(dag_id, run_id, "summarize")  # the retry was not used
    assert only_try["state"] == "failed"
    assert calls == 1
    body = _only_alert(services, dag_id, _when(run["logical_date"]), "summarize")
    assert reason in body, body
    assert spec["title"] in body


def test_empty_or_broken_output_fails_the_run_with_one_alert_naming_the_reason(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    services, api = scheduler_services, airflow_cluster.api
    days = [TODAY - timedelta(days=n) for n in (16, 15)]
    quiet = airflow_cluster.add_job(
        job_spec(
            unique_id("sched_empty"), services, quiet_sources(tmp_path), days[0], retry_delay_s=RETRY_DELAY_S
        )
    )
    loop_sources = make_sources(tmp_path / "loop", days)
    loop = airflow_cluster.add_job(
        job_spec(
            unique_id("sched_broken"),
            services,
            loop_sources,
            days[0],
            mode="loop",
            retry_delay_s=RETRY_DELAY_S,
        )
    )
    sha = short_sha(loop_sources["git"]["repos"][0], days[1])
    invented = (
        f"# Daily digest\n\n## Commits\n\n- {sha} {days[1]}: tune the caps\n\n## Tech highlights\n\n"
        "- Big news — a release nobody made (https://example.org/invented)\n\n"
        "## Action items (if any)\n\nNone today.\n"
    )
    services.reset_model()
    try:
        api.wait_for_dag(quiet)
        api.wait_for_dag(loop)
        # A day with nothing in it: no model call, and this job forbids empty days.
        empty_run = api.trigger(quiet, logical_date=logical_date_of(days[1]))["dag_run_id"]
        # The model never ends with a RESULT line, not even when asked to repair its answer.
        services.model.script(reply("Here is the digest you asked for."), reply("Sure, the digest is above."))
        no_result = api.trigger(loop, logical_date=logical_date_of(days[0]))["dag_run_id"]
        api.wait_for_runs(loop, [no_result], timeout=120, expect="failed")
        # A digest citing a link that is not in the day's sources: validation refuses it.
        services.model.script(
            tool_call("write_file", {"path": "digest.md", "content": invented}),
            reply('Written.\nRESULT: {"path": "digest.md", "items": 2}'),
        )
        bad_link = api.trigger(loop, logical_date=logical_date_of(days[1]))["dag_run_id"]
        api.wait_for_runs(loop, [bad_link], timeout=120, expect="failed")
        api.wait_for_runs(quiet, [empty_run], timeout=60, expect="failed")
        calls = services.model.calls
    finally:
        services.reset_model()

    assert calls == 4
    assert api.task_states(quiet, empty_run)["summarize"] == "failed"
    body = _only_alert(services, quiet, logical_date_of(days[1]), "summarize")
    assert "EmptyResult" in body and "allow_empty" in body, body
    body = _only_alert(services, loop, logical_date_of(days[0]), "summarize")
    assert "ContractViolation" in body and "RESULT" in body, body
    assert api.task_states(loop, bad_link)["summarize"] == "success"
    body = _only_alert(services, loop, logical_date_of(days[1]), "validate")
    assert "ContractViolation" in body and "https://example.org/invented" in body, body
    # One alert per failed run and nothing else: no retries paged, no delivery happened.
    assert len(alert_emails(services, loop)) == 2
    assert len(alert_emails(services, quiet)) == 1

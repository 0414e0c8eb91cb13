"""`mode: batch` under the real processes: the batch task sends the due teams as one Batch API
file, defers to the real triggerer (BatchTrigger polls the loopback fake through in_progress to
completed at the connection's batch_poll_s), each team is validated and delivered once from its
batch answer with no online call, and a clear of the whole run sends no batch, asks nothing and
delivers nothing twice."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.fakes.model_server import RecordedRequest, Step, error, respond
from tests.jobs.business import shipped_spec
from tests.scheduler.conftest import SchedulerServices
from tests.scheduler.harness import AirflowCluster
from tests.scheduler.test_quiet_runs import top_three

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(400)]
# Teams with an email list; Sydney moved to Tokyo's zone, so both are due at one instant.
TEAMS = ("team-sydney", "team-tokyo")


def batch_answer(key: str, body: dict) -> Step:
    """A batch line answered as the online call would be (the same top three findings)."""
    return top_three(RecordedRequest("POST", "/v1/chat/completions", {}, body, b""))


def online_refused(request: RecordedRequest) -> Step:
    return error(400, "this test's teams are answered by the batch only")


def business_db(path: Path) -> tuple[Path, object]:
    """The sample business database, its Sydney team in Tokyo's time zone."""
    from agentjobs.business.generate import generate

    truth = generate(path)
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE teams SET timezone = 'Asia/Tokyo' WHERE id = 'team-sydney'"))
    finally:
        engine.dispose()
    return path, truth


def team_mails(services: SchedulerServices, before: int) -> int:
    return len(services.smtp.messages) - before


def trigger_log(cluster: AirflowCluster, dag_id: str, run_id: str, task_id: str) -> str:
    """What the triggerer logged for the task's deferrals (Airflow keeps it beside the try's log)."""
    folder = cluster.task_log_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    logs = sorted(folder.glob("attempt=*.trigger.*.log"))
    return "".join(path.read_text(errors="replace") for path in logs)


def test_a_batch_run_defers_to_the_triggerer_delivers_each_team_once_and_a_clear_sends_nothing(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    from agentjobs.cli.run import serving_instant
    from agentjobs.jobs.kinds.registry import fan_out_kind
    from agentjobs.sources.sql import read_teams

    api, services = airflow_cluster.api, scheduler_services
    business, truth = business_db(tmp_path / "business.db")
    engine = sa.create_engine(f"sqlite:///{business}")
    try:
        teams = {team.id: team for team, _ in read_teams(engine)}
    finally:
        engine.dispose()
    suffix = uuid.uuid4().hex[:8]
    sql_conn, llm_conn = f"batch_business_{suffix}", f"llm_batch_{suffix}"
    api.create_connection(sql_conn, {"conn_type": "sqlite", "host": str(business)})
    base = services.connections[services.llm_conn_id]
    # Its own connection: the triggerer polls every second instead of every minute.
    api.create_connection(llm_conn, {**base, "extra": {**base["extra"], "batch_poll_s": 1}})
    delivery = {"slack_conn_id": None, "smtp_conn_id": services.smtp_conn_id, "member_preview": False}
    spec = shipped_spec(
        "weekly-insights.yaml",
        llm_conn,
        sql_conn,
        mode="batch",
        team_delivery=delivery,
        ledger_conn_id=services.ledger_conn_id,
    )
    kind, settings = fan_out_kind(spec.kind), spec.kind_settings()
    (due_at,) = {serving_instant(kind, settings, teams[t], truth.last_day) for t in TEAMS}
    assert due_at is not None

    services.reset_model()
    fake = services.model.batch_api
    fake.answer = batch_answer
    services.model.default_step = respond(online_refused)
    mails = len(services.smtp.messages)
    try:
        dag_id = airflow_cluster.add_job(spec.model_dump(mode="json"))
        api.wait_for_dag(dag_id)
        run_id = api.trigger(dag_id, logical_date=due_at, conf={"teams": list(TEAMS)})["dag_run_id"]
        with airflow_cluster.timed("batch run: submit, deferral, teams"):
            api.wait_for_runs(dag_id, [run_id], timeout=240)
        first = (dict(fake.batches), len(fake.requests), services.model.calls, team_mails(services, mails))

        # A clear of the whole delivered run: the batch task finds every team done.
        api.clear_run(dag_id, run_id)
        with airflow_cluster.timed("batch run: cleared"):
            api.wait_for_runs(dag_id, [run_id], timeout=240)
        again = (dict(fake.batches), len(fake.requests), services.model.calls, team_mails(services, mails))
    finally:
        services.reset_model()

    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in api.task_instances(dag_id, run_id)}
    assert set(states.values()) == {"success"} and ("team.deliver", 1) in states, states
    batches, requests, calls, delivered = first
    (batch_id,) = batches
    assert batches[batch_id].polls == 4  # validating (the task's one look), then the triggerer's three
    assert calls == 0 and delivered == len(TEAMS)  # each team from its batch answer, none online
    tries = api.tries(dag_id, run_id, "batch")
    assert [t["state"] for t in tries] == ["success", "success"], tries  # the run (deferred once), the clear
    log = airflow_cluster.task_log_tail(dag_id, run_id, "batch", 1, lines=400)
    assert f"Waiting in the triggerer for batch(es) {batch_id}" in log, log
    polled = trigger_log(airflow_cluster, dag_id, run_id, "batch")
    assert re.search(rf"batch {batch_id}: in_progress.*batch {batch_id}: completed", polled, re.S), polled
    assert f"Batch answers for {len(TEAMS)} team(s); 0 to ask online" in log, log

    # The clear: no new batch, no poll, no upload, no online call, nothing mailed again.
    assert again == (batches, requests, 0, delivered), (first, again)
    cleared_log = airflow_cluster.task_log_tail(dag_id, run_id, "batch", 2, lines=400)
    assert "Waiting in the triggerer" not in cleared_log and "Sent " not in cleared_log, cleared_log
    assert trigger_log(airflow_cluster, dag_id, run_id, "batch") == polled  # no second wait
    assert api.xcom(dag_id, run_id, "batch") == {"batches": [], "answered": [], "online": []}

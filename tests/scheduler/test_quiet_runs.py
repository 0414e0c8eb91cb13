"""Runs that served nobody under the real scheduler: a backfill of hours nobody is due at ends
each run at the fetch (green, the rest skipped, no team expanded), a triggered hour a team is due
runs its chain, and clears keep it so: a lone cleared task of an idle run is skipped again
(Airflow's NotPreviouslySkippedDep), a cleared idle run decides again and ends the same way."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from tests.fakes.model_server import RecordedRequest, Step, reply, respond
from tests.jobs.business import shipped_spec
from tests.scheduler.conftest import SchedulerServices
from tests.scheduler.harness import AirflowCluster, poll

LATER_TASKS = {"team.summarize", "team.validate", "team.deliver", "alert_on_failure"}
# Saturday 10:00 to 12:00 UTC: nobody's Sunday 09:00 in any zone.
IDLE_FROM, IDLE_TO = datetime(2026, 11, 28, 10, tzinfo=UTC), datetime(2026, 11, 28, 12, tzinfo=UTC)


def top_three(request: RecordedRequest) -> Step:
    metrics = re.findall(r"^- metric: (\S+) \|", request.body["messages"][-1]["content"], flags=re.M)
    return reply(json.dumps({"findings": [{"metric": m, "comment": "Worth a look"} for m in metrics[:3]]}))


def served_nobody(api, dag_id: str, run_id: str) -> dict[tuple[str, int], str | None]:
    """The run's task instances as (task, map index) -> state, checked to be an idle run's."""
    tis = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in api.task_instances(dag_id, run_id)}
    assert tis == {("fetch", -1): "success", **{(t, -1): "skipped" for t in LATER_TASKS}}, (run_id, tis)
    return tis


def test_idle_hours_end_at_the_fetch_a_due_hour_serves_its_team_and_clears_keep_it_so(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    from agentjobs.business.generate import generate
    from agentjobs.cli.run import serving_instant
    from agentjobs.jobs.kinds.registry import fan_out_kind
    from agentjobs.sources.sql import read_teams

    api, services = airflow_cluster.api, scheduler_services
    business = tmp_path / "business.db"
    truth = generate(business)
    engine = sa.create_engine(f"sqlite:///{business}")
    try:
        teams = {team.id: team for team, _ in read_teams(engine)}
    finally:
        engine.dispose()
    conn_id = f"quiet_business_{uuid.uuid4().hex[:8]}"
    api.create_connection(conn_id, {"conn_type": "sqlite", "host": str(business)})
    delivery = {"slack_conn_id": None, "smtp_conn_id": services.smtp_conn_id, "member_preview": False}
    spec = shipped_spec(
        "weekly-insights.yaml",
        services.llm_conn_id,
        conn_id,
        team_delivery=delivery,
        ledger_conn_id=services.ledger_conn_id,
    )
    team_id = min(teams)
    due_at = serving_instant(fan_out_kind(spec.kind), spec.kind_settings(), teams[team_id], truth.last_day)
    assert due_at is not None
    services.reset_model()
    services.model.default_step = respond(top_three)
    try:
        dag_id = airflow_cluster.add_job(spec.model_dump(mode="json"))
        api.wait_for_dag(dag_id)
        # The idle hours side by side: the job's first runs all create the run log's table at once
        # on PostgreSQL (sql_tables.py makes the losers of that race go on).
        idle_runs = api.wait_for_backfill(api.create_backfill(dag_id, IDLE_FROM, IDLE_TO), timeout=240)
        busy = api.trigger(dag_id, logical_date=due_at, conf={"teams": [team_id]})["dag_run_id"]
        api.wait_for_runs(dag_id, [busy], timeout=240)
        calls = services.model.calls
    finally:
        services.reset_model()

    assert len(idle_runs) == 3 and calls == 1
    for run in idle_runs:
        served_nobody(api, dag_id, run["dag_run_id"])
    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in api.task_instances(dag_id, busy)}
    assert set(states.values()) == {"success"} and ("team.summarize", 0) in states, states
    assert api.xcom(dag_id, busy, "fetch") == [{"team": team_id, "period": truth.last_day.isoformat()}]

    # A lone clear of an idle run's team task: skipped again, by the fetch's record, not run.
    idle = idle_runs[0]["dag_run_id"]
    api.clear_task_instances(dag_id, idle, ["team.summarize"])
    poll(
        lambda: (
            api.dag_run(dag_id, idle)["state"] == "success"
            and api.task_states(dag_id, idle)["team.summarize"] == "skipped"
        ),
        timeout=120,
        what="the cleared team task of an idle run skipped again",
    )
    served_nobody(api, dag_id, idle)
    # A clear of the whole idle run: the fetch decides again, and ends it the same way.
    api.clear_run(dag_id, idle)
    api.wait_for_runs(dag_id, [idle], timeout=120)
    served_nobody(api, dag_id, idle)
    assert len(api.tries(dag_id, idle, "fetch")) == 2

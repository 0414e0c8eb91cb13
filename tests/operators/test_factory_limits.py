"""How long a run may take: every shipped job has a deadline that fits its schedule and comes
before its dagrun_timeout, and a fan-out's timeout grows with the teams it serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from tests.jobs.specs import digest_spec

pytestmark = pytest.mark.airflow
REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "include" / "jobs").glob("*.yaml"))


def shortest_gap(spec) -> timedelta:
    """The shortest time between two scheduled runs over a week, in the job's time zone."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    it = croniter(spec.schedule, datetime(2026, 11, 30, tzinfo=UTC).astimezone(ZoneInfo(spec.timezone)))
    fires = [it.get_next(datetime) for _ in range(2100)]  # a week of 5-minute runs
    return min(later - earlier for earlier, later in pairwise(fires))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_job_is_paged_late_before_it_is_stopped_and_before_its_next_run(path):
    from agentjobs.jobs.spec import load_spec
    from agentjobs.operators.factory import build_dag, resolve_paths

    spec = load_spec(path)
    assert spec.deadline_minutes is not None and spec.alert is not None, f"{path.name} has no deadline"
    dag = build_dag(resolve_paths(spec, REPO))
    (deadline,) = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert deadline.interval == timedelta(minutes=spec.deadline_minutes)
    # Late is paged while the run can still finish: after the timeout it would be stopped instead.
    assert deadline.interval < dag.dagrun_timeout, (deadline.interval, dag.dagrun_timeout)
    # And no later than the next run is due: max_active_runs=1 holds that run back meanwhile.
    assert deadline.interval <= shortest_gap(spec), (deadline.interval, shortest_gap(spec))


def test_a_fan_outs_timeout_grows_with_the_teams_it_serves():
    from agentjobs.jobs.spec import load_spec
    from agentjobs.operators.factory import dagrun_timeout

    spec = load_spec(REPO / "include" / "jobs" / "weekly-insights.yaml")
    few, many = (spec.model_copy(update={"max_teams_per_run": n}) for n in (5, 50))
    # One team: its agent budget twice (a try and its retry) and the retry's delay.
    per_team = timedelta(seconds=spec.caps.timeout_s * 2 + spec.retry_delay_s)
    assert dagrun_timeout(few) == 5 * per_team + timedelta(minutes=10)
    assert dagrun_timeout(many) - dagrun_timeout(few) == 45 * per_team


def test_a_fan_out_with_a_review_waits_for_the_person_too():
    from agentjobs.jobs.spec import load_spec
    from agentjobs.operators.factory import dagrun_timeout

    spec = load_spec(REPO / "include" / "jobs" / "reconciliation.yaml")
    settings = {**spec.kind_section(), "review": {"enabled": True, "timeout_minutes": 45}}
    reviewed = spec.with_kind_section(settings)
    assert dagrun_timeout(reviewed) - dagrun_timeout(spec) == timedelta(minutes=45)


def test_a_deadline_the_timeout_would_cut_off_is_refused_with_the_fix(llm_conn, tmp_path):
    from agentjobs.jobs.spec import JobSpecError
    from agentjobs.operators.factory import build_dag

    alert = {"type": "email", "conn_id": "smtp_default", "to": ["oncall@example.org"]}
    spec = digest_spec(
        "late_after_stop",
        llm_conn,
        sources={"git": {"repos": [str(tmp_path)]}},
        alert=alert,
        deadline_minutes=55,  # 3 x 900 s + 600 s: the run is stopped at 55 minutes
    )
    refused = r"deadline_minutes 55 is not below the run's dagrun_timeout \(55 minutes\)"
    with pytest.raises(JobSpecError, match=refused):
        build_dag(spec)

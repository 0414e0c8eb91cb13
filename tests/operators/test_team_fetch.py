"""The fan-out's fetch task on its own, over the generated business database: who a run serves,
the `teams` Param narrowing it (an unknown id refused by name), a rerun reusing the snapshot it
judged unless `refetch` or another period, and a run serving nobody recorded as a good run."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from agentjobs.hooks.ledger import run_log
from agentjobs.jobs.kinds.base import TeamSnapshot
from agentjobs.jobs.spec import JobSpec, load_spec
from agentjobs.jobs.team_run import snapshot_path, team_dir
from agentjobs.operators.factory import resolve_paths
from agentjobs.operators.team_fetch import TeamFetchOperator, same_period
from tests.business.fixtures import sample_db  # noqa: F401  (the session's generated database)

REPO = Path(__file__).resolve().parents[2]
WEEK_END = date(2026, 11, 28)  # the last day a run on Sunday 29 November covers


@pytest.fixture
def insights(sample_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JobSpec:  # noqa: F811
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "artifacts"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_BUSINESS_TEAM_FETCH", json.dumps({"conn_type": "sqlite", "host": str(sample_db[0])})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_TEAM_FETCH", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    )
    spec = resolve_paths(load_spec(REPO / "include" / "jobs" / "weekly-insights.yaml"), REPO)
    sources = spec.sources.model_copy(
        update={"sql": spec.sources.sql.model_copy(update={"conn_id": "business_team_fetch"})}
    )
    return spec.model_copy(update={"sources": sources, "ledger_conn_id": "ledger_team_fetch"})


def fetch(spec: JobSpec, when: datetime, **params: Any) -> list[dict[str, str]]:
    context = {"logical_date": when, "params": params, "run_id": f"scheduled__{when.isoformat()}"}
    return TeamFetchOperator(task_id="fetch", spec=spec).execute(context)


def first_team_and_its_sunday_nine(spec: JobSpec) -> tuple[str, datetime]:
    from agentjobs.cli.run import serving_instant
    from agentjobs.jobs.kinds.registry import fan_out_kind
    from agentjobs.sources.sql import fetch_teams

    team = min((t for t, _ in fetch_teams(spec.sources.sql.conn_id)), key=lambda t: t.id)
    when = serving_instant(fan_out_kind(spec.kind), spec.kind_settings(), team, WEEK_END)
    assert when is not None
    return team.id, when


def test_a_team_named_in_the_teams_param_that_does_not_exist_is_refused_by_name(insights):
    with pytest.raises(
        ValueError, match=r"^no team no-such-team in the teams table of 'business_team_fetch'$"
    ):
        fetch(insights, datetime(2026, 11, 29, 8, tzinfo=UTC), teams=["no-such-team"])


def test_the_teams_param_narrows_the_run_and_the_snapshot_is_written_for_the_period(insights):
    team_id, when = first_team_and_its_sunday_nine(insights)
    assert fetch(insights, when, teams=[team_id]) == [{"team": team_id, "period": WEEK_END.isoformat()}]
    path = snapshot_path(team_dir(insights.dag_id, team_id, WEEK_END.isoformat()))
    snapshot = TeamSnapshot.model_validate_json(path.read_text())
    assert snapshot.team.id == team_id and snapshot.period.key == WEEK_END.isoformat()
    assert snapshot.tables  # the kind's queries ran

    # Another team's Sunday 09:00 is not this hour: narrowed to it, the run serves no one.
    others = [t for t in fetch_all_ids(insights) if t != team_id]
    served_now = {s["team"] for s in fetch(insights, when)}
    idle = next(t for t in others if t not in served_now)
    assert fetch(insights, when, teams=[idle]) == []


def fetch_all_ids(spec: JobSpec) -> list[str]:
    from agentjobs.sources.sql import fetch_teams

    return [t.id for t, _ in fetch_teams(spec.sources.sql.conn_id)]


def test_a_rerun_reuses_the_snapshot_unless_refetch_or_it_is_of_another_period(insights):
    team_id, when = first_team_and_its_sunday_nine(insights)
    fetch(insights, when, teams=[team_id])
    path = snapshot_path(team_dir(insights.dag_id, team_id, WEEK_END.isoformat()))
    stored = TeamSnapshot.model_validate_json(path.read_text())
    marked = stored.model_copy(update={"tables": {"marker": [{"kept": True}]}})
    path.write_text(marked.model_dump_json())

    fetch(insights, when, teams=[team_id])  # a clear or a backfill: the same rows are judged
    assert TeamSnapshot.model_validate_json(path.read_text()).tables == {"marker": [{"kept": True}]}

    fetch(insights, when, teams=[team_id], refetch=True)
    assert TeamSnapshot.model_validate_json(path.read_text()).tables == stored.tables

    shifted = stored.period.model_copy(update={"start": datetime(2026, 11, 1, tzinfo=UTC)})
    path.write_text(marked.model_copy(update={"period": shifted}).model_dump_json())
    fetch(insights, when, teams=[team_id])  # another period's snapshot in the folder: read again
    assert TeamSnapshot.model_validate_json(path.read_text()).tables == stored.tables


def test_a_run_serving_no_team_is_a_good_run_in_the_run_log(insights):
    saturday_noon = datetime(2026, 11, 28, 12, tzinfo=UTC)  # nobody's Sunday 09:00
    assert fetch(insights, saturday_noon) == []
    (entry,) = run_log("ledger_team_fetch").recent(insights.dag_id)
    assert entry["outcome"] == "success" and entry["run_id"] == f"scheduled__{saturday_noon.isoformat()}"


def test_a_snapshot_is_of_the_period_it_says_and_an_unreadable_one_of_none(tmp_path):
    start = datetime(2026, 11, 22, 23, tzinfo=UTC)
    path = tmp_path / "sql.json"
    path.write_text("{not json")
    assert not same_period(path, start)
    path.write_text(
        json.dumps(
            {
                "kind": "weekly_insights",
                "team": {"id": "t1", "name": "T", "timezone": "Europe/Berlin", "currency": "EUR"},
                "period": {
                    "key": "2026-11-29",
                    "start": start.isoformat(),
                    "end": "2026-11-29T23:00:00+00:00",
                },
                "tables": {},
            }
        )
    )
    assert same_period(path, start)
    assert not same_period(path, datetime(2026, 11, 15, 23, tzinfo=UTC))


def test_a_business_database_that_refuses_connections_fails_the_fetch_naming_the_connection(
    insights, monkeypatch
):
    """The task's failure (its log and the run's alert) names the connection and what to check,
    not the driver's bare OperationalError; and the retry policy retries it (a server restarting)."""
    import socket

    from airflow.sdk import RetryAction

    from agentjobs.operators.retry import AGENT_RETRY_POLICY
    from agentjobs.sources.errors import BusinessDbUnreachable

    with socket.socket() as sock:  # a loopback port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_BUSINESS_TEAM_FETCH", f"postgresql://shop:s3cret-pw@127.0.0.1:{port}/shop"
    )
    with pytest.raises(BusinessDbUnreachable) as err:
        fetch(insights, datetime(2026, 11, 29, 8, tzinfo=UTC))
    message = str(err.value)
    assert f"connection 'business_team_fetch' (127.0.0.1:{port}) could not be reached" in message
    assert "check the host, port and credentials of connection 'business_team_fetch'" in message
    assert "s3cret-pw" not in message
    assert AGENT_RETRY_POLICY.evaluate(err.value, try_number=1, max_tries=2).action == RetryAction.RETRY

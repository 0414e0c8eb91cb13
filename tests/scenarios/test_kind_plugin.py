"""A kind from another package (tests/kinds_plugin, found through its `agentjobs.kinds` entry
point) runs end to end in dag.test() like a shipped one: fetch, the model, the check, delivery."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.business import serving_instant, team_states
from tests.jobs.specs import sqlite_ledger
from tests.kinds_plugin.fixtures import SKILLS

pytestmark = pytest.mark.airflow
REPO = Path(__file__).resolve().parents[2]


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def count_in_db(db: Path, team_id: str, start: str, end: str) -> int:
    """The team's transactions in [start, end), read straight from the database file."""
    with sqlite3.connect(db) as conn:
        sql = "SELECT count(*) FROM transactions WHERE team_id = ? AND occurred_at >= ? AND occurred_at < ?"
        return conn.execute(sql, (team_id, start, end)).fetchone()[0]


def test_a_third_party_kind_fetches_asks_checks_and_delivers(
    installed_kinds, llm_conn, business_conn, business_db, model_server, smtp_server, monkeypatch, tmp_path
):
    from agentjobs.jobs.period import period_for
    from agentjobs.jobs.spec import JobSpec
    from agentjobs.operators.factory import build_dag
    from agentjobs.sources.sql import fetch_teams

    spec = JobSpec.model_validate(
        {
            "dag_id": f"team_tally_{uuid.uuid4().hex[:8]}",
            "kind": "team_tally",
            "title": "Team tally",
            "start_date": "2026-11-01",
            "skill": "team-tally",
            "llm_conn_id": llm_conn,
            "retries": 0,
            "sources": {"sql": {"conn_id": business_conn}},
            "team_tally": {"local_hour": 8},
            "team_delivery": {"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id},
            "ledger_conn_id": sqlite_ledger(monkeypatch, tmp_path),
        }
    )
    team, members = next((t, m) for t, m in fetch_teams(business_conn) if m)
    day = business_db.truth.last_day
    when = serving_instant(spec, team.id, day)
    asked: list[str] = []

    def remark(request):
        prompt = request.body["messages"][-1]["content"]
        asked.append(prompt)
        items = int(prompt.split("had ", 1)[1].split(" ", 1)[0])
        return reply(json.dumps({"items": items, "remark": "A steady day."}))

    model_server.default_step = respond(remark)
    run = run_dag(build_dag(spec, SKILLS), logical_date=when, run_conf={"teams": [team.id]})

    assert set(team_states(run).values()) == {"success"}, team_states(run)
    assert xcom(run, "fetch") == [{"team": team.id, "period": day.isoformat()}]
    # Yesterday in the team's own time zone, counted from the database file itself.
    period = period_for(when, team.timezone)
    count = count_in_db(business_db.path, team.id, utc_text(period.start), utc_text(period.end))
    text = Path(xcom(run, "team.validate")["artifact"]).read_text()
    assert text.startswith(f"# Team tally — {team.name}, {day.isoformat()}\n")
    assert f"\n{count} transaction(s) yesterday.\n" in text and "A steady day." in text
    assert len(asked) == 1 and f"had {count} transactions" in asked[0]
    # Each member got the count line by email (the kind's preview), through the shipped delivery.
    recipients = {r for m in smtp_server.messages for r in m.rcpt_tos}
    assert {m.email for m in members} <= recipients


def test_a_broken_third_party_kind_leaves_out_its_own_job_alone(installed_kinds, tmp_path, monkeypatch):
    from agentjobs.jobs.spec import JobSpecError
    from agentjobs.operators.factory import dags_from_folder, raise_for_broken_specs

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))  # where the verdict is kept
    jobs = tmp_path / "project" / "include" / "jobs"
    jobs.mkdir(parents=True)
    for name in ("daily-digest.yaml", "weekly-insights.yaml"):
        (jobs / name).write_text((REPO / "include" / "jobs" / name).read_text())
    tally = (
        "kind: team_tally\ntitle: Team tally\nstart_date: 2026-11-01\nskill: team-tally\n"
        "sources:\n  sql: {conn_id: agentjobs_business}\n"
    )
    (jobs / "tally.yaml").write_text("dag_id: team_tally\n" + tally)
    (jobs / "broken.yaml").write_text("dag_id: broken\n" + tally.replace("team_tally", "broken_kind"))

    dags = dags_from_folder(jobs)
    assert set(dags) == {"daily_digest", "weekly_insights", "team_tally", "agentjobs_health"}
    assert {t.task_id for t in dags["team_tally"].tasks} >= {"fetch", "team.summarize", "team.deliver"}
    with pytest.raises(JobSpecError) as raised:
        raise_for_broken_specs(jobs)  # dags/agentjobs_spec_errors.py: one line per broken spec
    count, error = str(raised.value).splitlines()
    assert count.startswith("1 job spec(s) left out")
    assert error.startswith(f"{jobs / 'broken.yaml'}: invalid job spec: field 'kind': kind 'broken_kind'")
    assert "ModuleNotFoundError" in error


def test_a_third_party_kind_that_is_no_fan_out_builds_its_own_tasks(installed_kinds):
    from datetime import timedelta

    from pydantic import ValidationError

    from agentjobs.jobs.spec import JobSpec
    from agentjobs.operators.factory import build_dag

    data = {
        "dag_id": f"ping_{uuid.uuid4().hex[:8]}",
        "kind": "ping",
        "title": "Ping",
        "start_date": "2026-11-01",
        "skill": "echo",
        "sources": {"rss": {"feeds": ["feed.xml"]}},
        "ping": {"message": "hello from a plug-in", "minutes": 7},
    }
    dag = build_dag(JobSpec.model_validate(data))
    assert {t.task_id for t in dag.tasks} == {"ping", "alert_on_failure"}
    assert dag.dagrun_timeout == timedelta(minutes=7)  # sized by the kind's graph
    run = run_dag(dag, logical_date=datetime(2026, 11, 2, tzinfo=UTC))
    assert xcom(run, "ping") == "hello from a plug-in"
    # The kind's own rule on the rest of the spec (capabilities.ChecksSpec), pinned on its section.
    with pytest.raises(ValidationError, match="a ping delivers nothing; remove channels"):
        JobSpec.model_validate({**data, "channels": [{"type": "email", "to": ["a@example.org"]}]})

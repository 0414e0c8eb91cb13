"""The run's one alert task on its own: which task instances it lists (failed ones only, never
itself, in map-index order, each with its team and the reason the run log holds), what it does
without an alert channel or a readable run log, and that it fails the run after alerting."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agentjobs.jobs.spec import JobSpec, load_spec
from agentjobs.operators.factory import resolve_paths
from agentjobs.operators.run_alert import ALERT_TASK_ID, NO_REASON, RunAlertOperator, RunFailed
from agentjobs.operators.run_log import RecordFailure

REPO = Path(__file__).resolve().parents[2]
RUN_ID = "scheduled__2026-11-29T08:00:00+00:00"


def ledger(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_RUN_ALERT",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ledger.db")}),
    )
    return "ledger_run_alert"


def shipped(name: str, **changes: Any) -> JobSpec:
    return resolve_paths(load_spec(REPO / "include" / "jobs" / name), REPO).model_copy(update=changes)


def context(crumbs: list[dict[str, Any]], fetched: Any = None) -> dict[str, Any]:
    """The alert task's view of its run: the task instances' states and the fetch task's teams."""

    def xcom_pull(task_ids: str) -> Any:
        return fetched if task_ids == "fetch" else None

    ti = SimpleNamespace(get_task_breadcrumbs=lambda dag_id, run_id: crumbs, xcom_pull=xcom_pull)
    return {"ti": ti, "run_id": RUN_ID}


def record(conn: str, job: str, task_id: str, map_index: int, exc: Exception) -> None:
    ti = SimpleNamespace(task_id=task_id, map_index=map_index)
    RecordFailure(job, conn)({"run_id": RUN_ID, "ti": ti, "exception": exc})


def test_a_fan_out_runs_failures_come_in_map_index_order_with_their_teams_and_latest_reasons(
    monkeypatch, tmp_path
):
    conn = ledger(monkeypatch, tmp_path)
    spec = shipped("weekly-insights.yaml", ledger_conn_id=conn)
    record(conn, spec.dag_id, "team.summarize", 2, TimeoutError("model endpoint first try"))
    record(conn, spec.dag_id, "team.summarize", 2, ConnectionError("model endpoint down"))
    record(conn, spec.dag_id, "team.validate", 0, ValueError("bullet 3 names 'Initech'"))
    crumbs = [
        {"task_id": "team.summarize", "map_index": 2, "state": "failed"},
        {"task_id": "team.validate", "map_index": 0, "state": "failed"},
        {"task_id": "team.summarize", "map_index": 1, "state": "success"},
        {"task_id": "team.deliver", "map_index": 2, "state": "upstream_failed"},
        {"task_id": "team.deliver", "map_index": 3, "state": "failed"},  # no reason recorded
        {"task_id": ALERT_TASK_ID, "map_index": -1, "state": "failed"},  # itself, on a rerun
    ]
    teams = [{"team": "team-berlin"}, {"team": "team-paris"}, {"team": "team-tokyo"}]
    failures, served = RunAlertOperator(spec=spec).failures(context(crumbs, teams))
    assert served == 3
    assert [(f.team, f.task, f.reason) for f in failures] == [
        ("team-berlin", "team.validate", "ValueError: bullet 3 names 'Initech'"),
        ("team-tokyo", "team.summarize", "ConnectionError: model endpoint down"),
        (None, "team.deliver", NO_REASON),  # a map index past the fetched teams names none
    ]


def test_a_fan_out_whose_fetch_failed_lists_its_failure_with_no_team(monkeypatch, tmp_path):
    conn = ledger(monkeypatch, tmp_path)
    spec = shipped("weekly-insights.yaml", ledger_conn_id=conn)
    record(conn, spec.dag_id, "fetch", -1, OSError("business database unreachable"))
    crumbs = [{"task_id": "fetch", "state": "failed"}]  # an unmapped task may carry no map_index
    failures, served = RunAlertOperator(spec=spec).failures(context(crumbs, fetched=None))
    assert served == 0
    assert [(f.team, f.task, f.reason) for f in failures] == [
        (None, "fetch", "OSError: business database unreachable")
    ]


def test_an_unreadable_run_log_still_lists_the_failed_tasks(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_BROKEN", json.dumps({"conn_type": "sqlite", "host": str(tmp_path)})
    )
    spec = shipped("daily-digest.yaml", ledger_conn_id="ledger_broken")  # a folder: no database
    failures, served = RunAlertOperator(spec=spec).failures(
        context([{"task_id": "summarize", "map_index": -1, "state": "failed"}])
    )
    assert served is None  # not a fan-out job: no teams to count
    assert [(f.task, f.reason) for f in failures] == [("summarize", NO_REASON)]


def test_a_run_with_no_failure_sends_nothing_and_succeeds(monkeypatch, tmp_path, smtp_server):
    alert = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    spec = shipped("daily-digest.yaml", ledger_conn_id=ledger(monkeypatch, tmp_path), alert=alert)
    crumbs = [{"task_id": t, "map_index": -1, "state": "success"} for t in ("fetch", "summarize", "validate")]
    assert RunAlertOperator(spec=spec).execute(context(crumbs)) is None
    assert smtp_server.messages == []


def test_failures_page_once_and_fail_the_alert_task_itself_for_good(monkeypatch, tmp_path, smtp_server):
    from agentjobs.jobs.channels.email import EmailChannel

    conn = ledger(monkeypatch, tmp_path)
    alert = EmailChannel(type="email", conn_id=smtp_server.conn_id, to=["oncall@example.org"])
    spec = shipped("daily-digest.yaml", ledger_conn_id=conn, alert=alert)
    record(conn, spec.dag_id, "deliver_email_0", -1, ConnectionRefusedError("smtp down"))
    record(conn, spec.dag_id, "deliver_slack_1", -1, ConnectionRefusedError("slack down"))
    crumbs = [
        {"task_id": "deliver_email_0", "map_index": -1, "state": "failed"},
        {"task_id": "deliver_slack_1", "map_index": -1, "state": "failed"},
    ]
    operator = RunAlertOperator(spec=spec)
    assert operator.task_id == ALERT_TASK_ID and operator.trigger_rule == "all_done"
    with pytest.raises(RunFailed) as failed:  # a PermanentTaskError: no retry pages twice
        operator.execute(context(crumbs))
    assert str(failed.value) == (
        "2 task(s) of this run failed: deliver_email_0: ConnectionRefusedError: smtp down; "
        "deliver_slack_1: ConnectionRefusedError: slack down"
    )
    (mail,) = [email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp_server.messages]
    assert mail["To"] == "oncall@example.org"
    body = " ".join(mail.get_body(("plain",)).get_content().split())
    assert "deliver_email_0" in body and "smtp down" in body and "slack down" in body


def test_without_an_alert_channel_the_task_still_fails_the_run_naming_the_failures(
    monkeypatch, tmp_path, capsys
):
    conn = ledger(monkeypatch, tmp_path)
    spec = shipped("daily-digest.yaml", ledger_conn_id=conn, alert=None)
    record(conn, spec.dag_id, "summarize", -1, RuntimeError("budget exceeded"))
    with pytest.raises(RunFailed, match=r"^1 task\(s\) of this run failed: summarize: RuntimeError: budget"):
        RunAlertOperator(spec=spec).execute(context([{"task_id": "summarize", "state": "failed"}]))
    assert "The job has no `alert` channel; nobody is paged for: summarize:" in capsys.readouterr().out

"""The failure callback: a failed task or a timed-out run lands in the job's run log, under the
label the run's alert looks it up by, with no secret in it."""

from __future__ import annotations

import json
from types import SimpleNamespace

from agentjobs.hooks.ledger import run_log
from agentjobs.operators.run_log import RecordFailure, failure_label

RUN_ID = "scheduled__2026-11-25T02:00:00+00:00"


def ledger_conn(monkeypatch, tmp_path) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_RUN_LOG",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ledger.db")}),
    )
    return "ledger_run_log"


def test_a_mapped_task_instance_is_labelled_with_its_index_and_a_plain_one_without():
    assert failure_label("team.summarize", 2) == "team.summarize[2]"
    assert failure_label("team.summarize", 0) == "team.summarize[0]"
    assert failure_label("summarize", -1) == "summarize"  # Airflow's index of an unmapped task
    assert failure_label("summarize", None) == "summarize"


def test_a_failed_task_is_recorded_with_its_label_and_reason_and_no_secret(monkeypatch, tmp_path):
    conn = ledger_conn(monkeypatch, tmp_path)
    token = "ghp_" + "Z9y8X7w6" * 4 + "ab12"
    RecordFailure("weekly_insights", conn)(
        {
            "run_id": RUN_ID,
            "ti": SimpleNamespace(task_id="team.summarize", map_index=1),
            "exception": RuntimeError(f"GitHub refused token {token}"),
        }
    )
    (detail,) = run_log(conn).run_failures("weekly_insights", RUN_ID)
    assert detail.startswith("team.summarize[1]: RuntimeError: GitHub refused token ")
    assert token not in detail
    assert run_log(conn).run_failures("weekly_insights", "another_run") == []
    assert run_log(conn).run_failures("daily_digest", RUN_ID) == []


def test_a_run_stopped_by_its_timeout_is_recorded_as_timed_out_not_as_an_exception(monkeypatch, tmp_path):
    conn = ledger_conn(monkeypatch, tmp_path)
    # The scheduler's DAG callback: no exception, a reason, the last unfinished task.
    RecordFailure("daily_digest", conn)(
        {"run_id": RUN_ID, "ti": SimpleNamespace(task_id="summarize", map_index=-1), "reason": "timed_out"}
    )
    assert run_log(conn).run_failures("daily_digest", RUN_ID) == [
        "summarize: the run timed out (dagrun_timeout)"
    ]

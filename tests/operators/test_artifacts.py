"""Where a task's run files go: <artifact base>/<dag_id>/<the run's date>, a manual run included."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from agentjobs.operators.artifacts import run_dir, run_instant, run_key


def context(logical_date: datetime | None, run_after: datetime) -> dict:
    return {
        "logical_date": logical_date,
        "dag_run": SimpleNamespace(run_after=run_after),
        "dag": SimpleNamespace(dag_id="daily_digest"),
    }


def test_a_scheduled_run_files_its_artifacts_under_its_logical_date(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    ctx = context(datetime(2026, 11, 24, 23, 30, tzinfo=UTC), run_after=datetime(2026, 11, 25, 3, tzinfo=UTC))
    assert run_key(ctx) == "2026-11-24"
    assert run_dir(ctx) == tmp_path / "daily_digest" / "2026-11-24"
    assert run_instant(ctx) == datetime(2026, 11, 24, 23, 30, tzinfo=UTC)


def test_a_manual_run_without_a_logical_date_uses_the_day_it_was_triggered_for(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    ctx = context(None, run_after=datetime(2026, 11, 26, 9, 15, tzinfo=UTC))
    assert run_key(ctx) == "2026-11-26"
    assert run_dir(ctx) == tmp_path / "daily_digest" / "2026-11-26"
    assert run_instant(ctx) == datetime(2026, 11, 26, 9, 15, tzinfo=UTC)

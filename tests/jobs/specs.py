"""The job specs the whole-DAG tests build: one daily digest shape, varied per test."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentjobs.jobs.spec import JobSpec
from tests.postgres import fresh_database

# The dag_ids of the job specs shipped in include/jobs.
SHIPPED = {
    "daily_digest",
    "weekly_newsletter",
    "weekly_insights",
    "anomaly_flags",
    "overdue_reminders",
    "enrichment",
    "reconciliation",
    "compliance_report",
    "batch_notifications",
}


def digest_spec(name: str, llm_conn: str, **fields: Any) -> JobSpec:
    """A structured-mode daily digest on the scripted model, in UTC, with a unique dag_id."""
    return JobSpec.model_validate(
        {
            "dag_id": f"{name}_{uuid.uuid4().hex[:8]}",
            "title": "Daily digest",
            "timezone": "UTC",
            "start_date": "2026-11-01",
            "skill": "daily-digest",
            "mode": "structured",
            "llm_conn_id": llm_conn,
            **fields,
        }
    )


def sqlite_ledger(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The id of a delivery-ledger connection to a fresh SQLite file under `tmp_path`."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_TEST",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ledger.db")}),
    )
    return "ledger_test"


def postgres_ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The id of a delivery-ledger connection to a fresh PostgreSQL database (production's store)."""
    with fresh_database("agentjobs_ledger") as name:
        monkeypatch.setenv("AIRFLOW_CONN_LEDGER_TEST", f"postgres://postgres@127.0.0.1:5432/{name}")
        yield "ledger_test"


@pytest.fixture(params=["sqlite", "postgres"])
def any_ledger(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """A delivery ledger on SQLite (the embedded default) and on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_ledger(monkeypatch, tmp_path)
    else:
        yield from postgres_ledger(monkeypatch)

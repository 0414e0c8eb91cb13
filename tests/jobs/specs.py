"""The job specs the whole-DAG tests build: one daily digest shape, varied per test."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from agentjobs.jobs.spec import JobSpec


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

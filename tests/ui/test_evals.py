"""A job's replay evaluations on the page: each evaluation's table (runs beside what they delivered,
the totals), every value escaped, behind the same login and per-DAG access as the runs."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from html import unescape

import pytest

from agentjobs.jobs.evaluation import Evaluation, RunRow, Side, write_evaluation
from agentjobs.ui.evals import evals_page
from tests.conftest import REPO
from tests.ui.helpers import PREFIX, admin, client

HOSTILE = '<script>alert(1)</script>"'
SKIPPED = "skipped: no snapshot"


def _evaluation() -> Evaluation:
    ok = Side(contract_ok=True, items=2, tokens=350, cost_usd=0.0004, latency_s=1.25, model="scripted")
    bad = Side(
        contract_ok=False, items=2, numbers=1, tokens=350, cost_usd=0.0004, error=f"CheckFailed: {HOSTILE}"
    )
    return Evaluation(
        eval_id="20261207T061500Z-other",
        job="anomaly_flags",
        llm_conn_id="other",
        model=f"m {HOSTILE}",
        created=datetime(2026, 12, 7, 6, 15, tzinfo=UTC),
        rows=[
            RunRow(run="team-a/2026-11-29", team="team-a", period="2026-11-29", delivered=ok, evaluated=ok),
            RunRow(run="team-b/2026-11-29", team="team-b", period="2026-11-29", delivered=ok, evaluated=bad),
            RunRow(
                run="team-c/2026-11-30", team="team-c", period="2026-11-30", skipped="skipped: no snapshot"
            ),
        ],
    )


def cell(html: str, run: str, field: str) -> str:
    row = re.search(rf'<tr data-run="{re.escape(run)}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {run}"
    found = re.search(rf'data-field="{field}"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert found, f"no {field} in the row of {run}"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def test_the_table_puts_each_rerun_beside_what_was_delivered_and_totals_them():
    html = evals_page(prefix=PREFIX, job="anomaly_flags", evaluations=[_evaluation()], broken=["x.json"])
    assert cell(html, "team-a/2026-11-29", "evaluated_contract") == "pass"
    assert cell(html, "team-b/2026-11-29", "evaluated_contract") == "FAIL"
    assert cell(html, "team-b/2026-11-29", "evaluated_numbers") == "1"
    assert cell(html, "team-b/2026-11-29", "delivered_tokens") == "350"
    assert cell(html, "team-a/2026-11-29", "evaluated_seconds") == "1.2"
    assert cell(html, "team-c/2026-11-30", "skipped") == "skipped: no snapshot"
    assert cell(html, "total", "evaluated_contract") == "1/2 (50%)"
    assert cell(html, "total", "delivered_contract") == "2/2 (100%)"
    assert cell(html, "total", "evaluated_cost") == "$0.0008"
    assert "report x.json could not be read" in html


def test_model_text_and_errors_are_escaped():
    html = evals_page(prefix=PREFIX, job="anomaly_flags", evaluations=[_evaluation()], broken=[])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_job_without_evaluations_says_how_to_make_one():
    html = evals_page(prefix=PREFIX, job="anomaly_flags", evaluations=[], broken=[])
    assert "agentjobs eval anomaly_flags --llm-conn" in unescape(html)


@pytest.mark.airflow
def test_the_route_serves_a_jobs_evaluations_behind_the_login(
    tmp_path, monkeypatch, auth_manager, airflow_db
):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    shutil.copy(REPO / "include" / "jobs" / "anomaly-flags.yaml", jobs)
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(jobs))
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "runs"))
    write_evaluation(_evaluation())
    assert client().get(f"{PREFIX}/evals/anomaly_flags").status_code == 401
    http = client(admin())
    page = http.get(f"{PREFIX}/evals/anomaly_flags")
    assert page.status_code == 200 and "<script>alert" not in page.text
    assert cell(page.text, "total", "evaluated_contract") == "1/2 (50%)"
    data = http.get(f"{PREFIX}/api/evals/anomaly_flags").json()
    (report,) = data["evaluations"]
    assert report["totals"]["evaluated"]["pass_rate"] == 0.5 and data["problems"] == []
    assert http.get(f"{PREFIX}/evals/no_such_job").status_code == 404
    # The runs page links each job's evaluations.
    assert f'href="{PREFIX}/evals/anomaly_flags"' in http.get(f"{PREFIX}/").text


@pytest.mark.airflow
def test_with_a_run_file_store_the_route_reads_the_reports_there_and_names_a_refusal(
    tmp_path,
    monkeypatch,
    auth_manager,
    airflow_db,
    s3_server,
):
    from agentjobs.hooks.run_file_store import configured_store
    from agentjobs.hooks.stored_evals import write_stored_evaluation

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    shutil.copy(REPO / "include" / "jobs" / "anomaly-flags.yaml", jobs)
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(jobs))
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "runs"))  # stays empty
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", f"s3://{s3_server.bucket}/runs")
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES_CONN_ID", s3_server.conn_id)
    write_stored_evaluation(configured_store(), _evaluation())
    http = client(admin())
    data = http.get(f"{PREFIX}/api/evals/anomaly_flags").json()
    assert [e["eval_id"] for e in data["evaluations"]] == ["20261207T061500Z-other"]
    assert cell(http.get(f"{PREFIX}/evals/anomaly_flags").text, "total", "evaluated_contract") == "1/2 (50%)"
    # A store that refuses the read is an error naming it, not a page saying "no evaluations yet".
    missing = "s3://no-such-bucket-ui/runs"
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", missing)
    refused = http.get(f"{PREFIX}/api/evals/anomaly_flags")
    assert refused.status_code == 502 and f"{missing}/anomaly_flags/_evals" in refused.text

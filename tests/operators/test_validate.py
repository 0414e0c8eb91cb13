"""The digest's validate task on its own: what it hands the delivery tasks (the RESULT, the day,
the file and its checksum), the Asset event it publishes, the good run it records, and what it
refuses (no RESULT, a digest that breaks the contract) without recording a good run."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agentjobs.agent.errors import ContractViolation
from agentjobs.hooks.ledger import run_log
from agentjobs.jobs.digest import DIGEST_FILE, render
from agentjobs.jobs.period import job_dir, period_for
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.fetch import FetchSourceOperator
from agentjobs.operators.validate import ValidateDigestOperator, digest_asset
from agentjobs.sources.snapshot import Snapshot

LOGICAL = datetime(2026, 11, 25, 3, tzinfo=UTC)  # covers 24 November (UTC)
RUN_ID = "scheduled__2026-11-25T03:00:00+00:00"
LINK = "https://example.org/fetch-step"


class OutletEvents(dict):
    """Airflow's outlet_events accessor: an entry for any asset, whose `extra` the task sets."""

    def __missing__(self, asset: Any) -> SimpleNamespace:
        self[asset] = SimpleNamespace(extra={})
        return self[asset]


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JobSpec:
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "artifacts"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_VALIDATE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    )
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>Add the fetch step</title><link>{LINK}</link>"
        "<pubDate>24 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    )
    spec = JobSpec.model_validate(
        {
            "dag_id": "feed_digest",
            "title": "Feed digest",
            "timezone": "UTC",
            "start_date": "2026-11-01",
            "skill": "daily-digest",
            "sources": {"rss": {"feeds": [str(feed)]}},
            "ledger_conn_id": "ledger_validate",
        }
    )
    FetchSourceOperator(task_id="fetch_rss", source="rss", spec=spec).execute(
        {"logical_date": LOGICAL, "params": {}}
    )
    return spec


def summarize(job: JobSpec, takeaway: str = "The fetch step landed") -> tuple[Path, dict[str, Any]]:
    """What the summarize task leaves: digest.md rendered from a model's answer, and its RESULT."""
    period = period_for(LOGICAL, "UTC", 1)
    work_dir = job_dir(job.dag_id, period)
    answer = {"highlights": [{"ref": LINK, "takeaway": takeaway}], "action_items": []}
    rendered = render(
        Snapshot.load(work_dir), answer, title=job.title, period=period, commits_cap=job.commits_cap
    )
    (work_dir / DIGEST_FILE).write_text(rendered.markdown)
    return work_dir / DIGEST_FILE, {"path": DIGEST_FILE, "items": rendered.items}


def validate(job: JobSpec, pushed: Any, events: OutletEvents | None = None) -> dict[str, Any]:
    ti = SimpleNamespace(xcom_pull=lambda task_ids: pushed if task_ids == "summarize" else None)
    context = {
        "ti": ti,
        "logical_date": LOGICAL,
        "run_id": RUN_ID,
        "outlet_events": OutletEvents() if events is None else events,
    }
    return ValidateDigestOperator(task_id="validate", spec=job).execute(context)


def test_a_valid_digest_is_handed_on_with_its_day_and_checksum_published_and_recorded(job):
    digest, result = summarize(job)
    events = OutletEvents()
    validated = validate(job, {"result": result, "usage": {}}, events)
    assert validated == {
        **result,
        "day": "2026-11-24",
        "artifact": str(digest),
        "sha256": hashlib.sha256(digest.read_bytes()).hexdigest(),
    }
    asset = digest_asset(job.dag_id)
    assert asset.uri == "x-agentjobs://feed_digest/digest.md" and asset.name == "feed_digest.digest"
    ((published, event),) = events.items()  # one event, on the job's digest asset
    assert published.uri == asset.uri
    assert event.extra == {"day": "2026-11-24", "items": result["items"], "artifact": str(digest)}
    (entry,) = run_log("ledger_validate").recent(job.dag_id)
    assert (entry["outcome"], entry["run_id"]) == ("success", RUN_ID)


def test_the_task_publishes_the_jobs_digest_asset(job):
    (outlet,) = ValidateDigestOperator(task_id="validate", spec=job).outlets
    assert outlet.uri == digest_asset("feed_digest").uri


@pytest.mark.parametrize("pushed", [None, {}, {"result": "RESULT: {}"}])
def test_no_result_from_summarize_is_refused_naming_the_task(job, pushed):
    with pytest.raises(ValueError, match="task 'summarize' pushed no RESULT; run it before validating"):
        validate(job, pushed)
    assert run_log("ledger_validate").recent(job.dag_id) == []


def test_a_digest_that_breaks_the_contract_is_refused_listing_why_and_no_good_run_is_recorded(job):
    digest, result = summarize(job)
    digest.write_text(digest.read_text() + "- See https://evil.example/phish for more\n")
    with pytest.raises(ContractViolation) as refused:
        validate(job, {"result": result})
    message = str(refused.value)
    assert message.startswith("digest.md breaks the contract: ")
    assert "https://evil.example/phish" in message and f"RESULT says items={result['items']}" in message
    assert run_log("ledger_validate").recent(job.dag_id) == []

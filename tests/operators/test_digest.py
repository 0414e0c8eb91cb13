"""The digest's agent task run by Airflow (a one-task DAG over a fetched feed, dag.test()): in
structured mode digest.md is rendered in code from the model's picks and its RESULT kept beside it
for reruns; in loop mode an earlier try's digest.md never passes for this try's; a day with nothing
to judge costs no model call."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.fetch import FetchSourceOperator
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import error, reply

pytestmark = pytest.mark.airflow

LOGICAL = datetime(2026, 11, 25, 3, tzinfo=UTC)  # covers 24 November (UTC)
LINK = "https://example.org/fetch-step"
PARAMS = {"caps": {}, "resummarize": False, "refetch": False, "force_redeliver": False}


def digest_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llm_conn: str, day: int = 24, **fields
) -> JobSpec:
    """A feed digest whose one article is dated `day` November, its feed fetched for the run."""
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "artifacts"))
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>Add the fetch step</title><link>{LINK}</link>"
        f"<pubDate>{day} Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    )
    spec = JobSpec.model_validate(
        {
            "dag_id": "feed_digest",
            "title": "Feed digest",
            "timezone": "UTC",
            "start_date": "2026-11-01",
            "skill": "daily-digest",
            "mode": "structured",
            "llm_conn_id": llm_conn,
            "sources": {"rss": {"feeds": [str(feed)]}},
            **fields,
        }
    )
    FetchSourceOperator(task_id="fetch_rss", source="rss", spec=spec).execute(
        {"logical_date": LOGICAL, "params": {}}
    )
    return spec


def run_summarize(spec: JobSpec, name: str):
    from airflow.sdk import DAG

    from agentjobs.operators.digest import DigestAgentOperator

    with DAG(f"digest_op_{name}", schedule=None, start_date=LOGICAL, catchup=False, params=PARAMS) as dag:
        DigestAgentOperator(task_id="summarize", spec=spec, retries=0)
    return run_dag(dag, logical_date=LOGICAL)


def state(run) -> str:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}["summarize"]


def test_structured_picks_are_rendered_in_code_and_the_result_kept_for_reruns(
    tmp_path, monkeypatch, llm_conn, model_server
):
    spec = digest_job(tmp_path, monkeypatch, llm_conn)
    answer = {"highlights": [{"ref": LINK, "takeaway": "The fetch step landed"}], "action_items": []}
    model_server.script(reply(json.dumps(answer)))
    run = run_summarize(spec, "structured")
    assert state(run) == "success"
    work_dir = tmp_path / "artifacts" / "feed_digest" / "2026-11-24"
    pushed = xcom(run, "summarize")
    assert pushed["result"]["path"] == "digest.md" and pushed["result"]["items"] >= 1
    assert pushed["artifact"] == str(work_dir)
    digest = (work_dir / "digest.md").read_text()
    assert "The fetch step landed" in digest and LINK in digest
    assert json.loads((work_dir / "result.json").read_text()) == pushed["result"]
    assert xcom(run, "summarize", key="dropped") == []
    # The model was asked to pick among the snapshot's items, by reference.
    schema = model_server.requests[0].body["response_format"]["json_schema"]["schema"]
    assert LINK in json.dumps(schema)


def test_in_loop_mode_an_earlier_tries_digest_is_removed_before_the_model_runs(
    tmp_path, monkeypatch, llm_conn, model_server
):
    spec = digest_job(tmp_path, monkeypatch, llm_conn, mode="loop")
    stale = tmp_path / "artifacts" / "feed_digest" / "2026-11-24" / "digest.md"
    stale.write_text("# A digest from an earlier try\n")
    model_server.script(error(400, "bad request"))
    run = run_summarize(spec, "loop")
    assert state(run) == "failed"
    assert not stale.exists()


def test_a_day_with_nothing_to_judge_asks_no_model_and_renders_the_empty_digest(
    tmp_path, monkeypatch, llm_conn, model_server
):
    spec = digest_job(tmp_path, monkeypatch, llm_conn, day=20, allow_empty=True)  # the article is older
    run = run_summarize(spec, "empty")
    assert state(run) == "success" and model_server.calls == 0
    assert xcom(run, "summarize")["result"] == {"path": "digest.md", "items": 0}
    assert (tmp_path / "artifacts" / "feed_digest" / "2026-11-24" / "digest.md").is_file()

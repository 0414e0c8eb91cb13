"""The shipped daily digest with a failing primary endpoint and a fallback connection: the
fallback answers the same call, the digest is delivered once, and XCom and the transcript name
who answered and why the run moved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.airflow.conftest import BACKUP_LLM_CONN_ID, run_dag, xcom
from tests.fakes.model_server import error, respond
from tests.scenarios import digest_job
from tests.scenarios.digest_job import LOGICAL, pick_first_refs, states

pytestmark = pytest.mark.airflow

job = digest_job.job  # git + RSS sources, email, Slack and S3 on their loopback fakes


def test_the_primary_is_down_the_fallback_writes_the_digest_and_it_is_delivered_once(
    job, model_server, backup_llm, smtp_server, slack_server
):
    from agentjobs.jobs.spec import JobSpec
    from agentjobs.operators.factory import build_dag

    spec = JobSpec.model_validate({**job.model_dump(), "fallback_conn_ids": [BACKUP_LLM_CONN_ID]})
    model_server.default_step = error(503, "primary overloaded")
    backup_llm.default_step = respond(pick_first_refs)
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)

    summarized = xcom(run, "summarize")
    # The fallback connection's own model was asked (XCom's `model` is what its endpoint named).
    assert backup_llm.requests[0].body["model"] == "backup-model"
    usage = summarized["usage"]
    assert usage["answered_by"] == BACKUP_LLM_CONN_ID
    [move] = usage["failovers"]
    assert (move["from"], move["to"], move["model"]) == (spec.llm_conn_id, BACKUP_LLM_CONN_ID, "backup-model")
    assert move["reason"] == "server_error: HTTP 503: primary overloaded"
    # One call asked of each: the primary refused it, the fallback answered the same request.
    assert model_server.calls == 1 and backup_llm.calls == 1
    assert backup_llm.requests[0].body["messages"] == model_server.requests[0].body["messages"]
    assert usage["cost_usd"] == pytest.approx((400 * 10.0 + 60 * 40.0) / 1e6)  # the backup's prices

    artifact = Path(xcom(run, "validate")["artifact"])
    assert "Worth a look: item 0" in artifact.read_text()
    assert len(smtp_server.messages) == 1
    assert len(slack_server.server.calls("/api/chat.postMessage")) == 1
    transcript = [
        json.loads(line) for line in (artifact.parent / "transcript.jsonl").read_text().splitlines()
    ]
    [moved] = [e for e in transcript if e["event"] == "failover"]
    assert moved["to"] == BACKUP_LLM_CONN_ID and moved["reason"].startswith("server_error")

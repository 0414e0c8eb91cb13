"""The daily digest DAG end to end with dag.test(): local git + RSS sources, the scripted
model, and real loopback servers for SMTP, S3 and Slack."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.scenarios import digest_job
from tests.scenarios.digest_job import LOGICAL, rerun, states

pytestmark = pytest.mark.airflow

job = digest_job.job  # the digest job's fixture: git + RSS sources, email, Slack and S3


def test_the_digest_is_fetched_summarized_validated_and_delivered_once(
    job, model_server, smtp_server, s3_server, slack_server
):
    from agentjobs.operators.factory import build_dag

    dag = build_dag(job)
    run = run_dag(dag, logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)

    validated = xcom(run, "validate")
    artifact = Path(validated["artifact"])
    digest = artifact.read_text()
    assert validated["day"] == "2026-11-24" and artifact.parent.name == "2026-11-24"
    # Commits come from the snapshot: exactly the day's two, oldest first.
    commits = digest.split("## Commits")[1].split("##")[0]
    assert [line[10:] for line in commits.splitlines() if line.startswith("- ")] == [
        "Add the fetch step",
        "Fix the retry policy",
    ]
    assert "Before the day" not in digest and "After the day" not in digest
    # Highlights name real feed items with the model's takeaways.
    assert "Worth a look: item 0" in digest and "https://example.org/" in digest
    assert validated["items"] == 2 + 2 + 1

    # Each channel got exactly what was validated.
    (mail,) = smtp_server.messages
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert message["Subject"] == "Daily digest — 2026-11-24"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == digest.strip()
    key = f"reports/{job.dag_id}/2026-11-24.md"
    body = s3_server.client().get_object(Bucket=s3_server.bucket, Key=key)["Body"].read()
    assert body == artifact.read_bytes()
    posts = slack_server.server.calls("/api/chat.postMessage")
    assert len(posts) == 1

    # A rerun of the same day delivers nothing twice, and keeps the digest as it was sent:
    # no model call, not a byte of digest.md changed.
    model_calls = model_server.calls
    sent = artifact.read_bytes()
    run = rerun(dag)
    assert set(states(run).values()) == {"success"}
    assert len(smtp_server.messages) == 1
    assert len(slack_server.server.calls("/api/chat.postMessage")) == 1
    assert "skipped" in xcom(run, "deliver_email_0")["message"]
    assert model_server.calls == model_calls
    assert artifact.read_bytes() == sent

    # Asked to, it delivers again, and the ledger keeps both.
    run = rerun(dag, run_conf={"force_redeliver": True})
    assert set(states(run).values()) == {"success"}
    assert len(smtp_server.messages) == 2
    # What is sent again is the digest sent before, not a new summary.
    assert model_server.calls == model_calls and artifact.read_bytes() == sent
    # On Slack the re-delivery edits the message it posted, by its ts, rather than posting again.
    assert len(slack_server.server.calls("/api/chat.postMessage")) == 1
    (update,) = slack_server.server.calls("/api/chat.update")
    from agentjobs.delivery import DeliveryLedger

    history = DeliveryLedger.from_conn_id("ledger_test").history(job=job.dag_id, logical_date="2026-11-24")
    assert sorted((r.channel, r.attempt, r.forced) for r in history) == [
        ("email", 1, False),
        ("email", 2, True),
        ("s3", 1, False),
        ("s3", 2, True),
        ("slack", 1, False),
        ("slack", 2, True),
    ]
    first_post = next(r for r in history if r.channel == "slack" and r.attempt == 1)
    assert update.params["ts"] == first_post.receipt["ts"] and update.params["channel"] == "C0DIGEST"

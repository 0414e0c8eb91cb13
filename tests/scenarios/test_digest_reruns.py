"""Reruns of a day with dag.test(): the snapshot is reused although the source changed, a
delivered digest is kept as sent unless asked, and a digest changed after validation is
refused, with the reason in the alert."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
from pathlib import Path

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.scenarios import digest_job
from tests.scenarios.digest_job import DAY, LOGICAL, rerun, states

pytestmark = pytest.mark.airflow
job = digest_job.job  # the digest job's fixture: git + RSS sources, email, Slack and S3

ONCALL = "oncall@example.org"


def add_commit(repo: Path, stamp: str, subject: str) -> None:
    env = {"GIT_AUTHOR_NAME": "Eve", "GIT_AUTHOR_EMAIL": "eve@example.org", "GIT_AUTHOR_DATE": stamp}
    env.update(GIT_COMMITTER_NAME="Eve", GIT_COMMITTER_EMAIL="eve@example.org", GIT_COMMITTER_DATE=stamp)
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", subject],
        check=True,
        env={**env, "PATH": "/usr/bin:/bin"},
    )


def prompts(model_server) -> list[str]:
    return [json.dumps(r.body["messages"]) for r in model_server.requests]


def test_a_rerun_reads_the_stored_snapshot_even_when_the_source_changed(job, model_server):
    from agentjobs.operators.factory import build_dag

    # No channels: nothing is delivered, so every run summarizes (and shows what it read).
    spec = job.model_copy(update={"channels": []})
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    digest = Path(xcom(run, "validate")["artifact"])
    snapshot = digest.parent / "sources" / "git.json"
    stored = snapshot.read_bytes()

    # Meanwhile the day's history gains a commit and the feed loses its articles.
    repo = Path(spec.sources.git.repos[0])
    add_commit(repo, "2026-11-24T20:00:00+00:00", "Late commit pushed after the run")
    Path(spec.sources.rss.feeds[0]).write_text("<rss version='2.0'><channel><title>x</title></channel></rss>")

    run = rerun(dag)
    assert set(states(run).values()) == {"success"}, states(run)
    assert snapshot.read_bytes() == stored
    assert "Late commit" not in digest.read_text()
    first, again = prompts(model_server)
    assert again == first  # the model saw exactly the same input
    assert xcom(run, "fetch_git")["commits"] == 2 and xcom(run, "fetch_rss")["entries"] > 0

    # Asked to, the run fetches the sources again and sees the change.
    run = rerun(dag, run_conf={"refetch": True})
    assert set(states(run).values()) == {"success"}, states(run)
    assert "Late commit pushed after the run" in digest.read_text()
    assert xcom(run, "fetch_git")["commits"] == 3 and xcom(run, "fetch_rss")["entries"] == 0


def test_resummarize_asks_the_model_again_after_delivery_and_sends_nothing_unasked(
    job, model_server, smtp_server
):
    from agentjobs.operators.factory import build_dag

    dag = build_dag(job)
    run = run_dag(dag, logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    digest = Path(xcom(run, "validate")["artifact"])
    sent = digest.read_text()
    model_server.default_step = respond(
        lambda request: reply(json.dumps({"highlights": [], "action_items": []}), prompt_tokens=300)
    )

    run = rerun(dag, run_conf={"resummarize": True})
    assert set(states(run).values()) == {"success"}, states(run)
    assert model_server.calls == 2
    assert digest.read_text() != sent and "Nothing stood out." in digest.read_text()
    # The new digest is not sent on its own: the ledger says the day was delivered.
    assert len(smtp_server.messages) == 1
    message = xcom(run, "deliver_email_0")["message"]
    assert "skipped" in message and "trigger with force_redeliver=true to send the new one" in message


def test_a_digest_changed_after_validation_is_refused_and_the_alert_says_why(
    job, model_server, smtp_server, s3_server, slack_server
):
    from airflow.providers.standard.operators.python import PythonOperator

    from agentjobs.operators.factory import build_dag

    alert = {"type": "email", "conn_id": smtp_server.conn_id, "to": [ONCALL]}
    # Retries allowed: the refusal is permanent, so it must not use them (a retry cannot succeed).
    spec = type(job).model_validate({**job.model_dump(), "alert": alert, "retries": 2, "retry_delay_s": 0.1})
    dag = build_dag(spec)

    def tamper(ti) -> None:
        artifact = Path(ti.xcom_pull(task_ids="validate")["artifact"])
        artifact.write_text(artifact.read_text() + "\n- Unvalidated line (https://evil.example/)\n")

    with dag:
        edit = PythonOperator(task_id="edit_digest", python_callable=tamper)
    delivers = [t for t in dag.tasks if t.task_id.startswith("deliver_")]
    dag.get_task("validate") >> edit >> delivers

    run = run_dag(dag, logical_date=LOGICAL)
    assert {t: s for t, s in states(run).items() if t.startswith("deliver_")} == {
        "deliver_email_0": "failed",
        "deliver_slack_1": "failed",
        "deliver_s3_2": "failed",
    }
    assert {ti.try_number for ti in run.get_task_instances() if ti.task_id.startswith("deliver_")} == {1}
    # Nothing reached a reader ...
    assert slack_server.server.calls("/api/chat.postMessage") == []
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket)
    assert listed.get("KeyCount", 0) == 0
    # ... and on-call got one alert for the run (not one per channel for the same cause),
    # naming each refused delivery and saying what happened and what to do.
    (mail,) = smtp_server.messages
    assert mail.rcpt_tos == [ONCALL]
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert message["Subject"].endswith("3 tasks failed"), message["Subject"]
    body = " ".join(message.get_body(("plain",)).get_content().split())
    for task in ("deliver_email_0", "deliver_slack_1", "deliver_s3_2"):
        assert f"`{task}`: ArtifactChanged" in body, body
    assert body.count("digest.md changed after validation; clear the run from 'summarize' to redo it") == 3
    assert str(DAY) in body

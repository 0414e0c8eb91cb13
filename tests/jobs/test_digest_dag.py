"""The daily digest DAG end to end with dag.test(): local git + RSS sources, the scripted
model, and real loopback servers for SMTP, S3 and Slack."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agentjobs.sources.demo_feed import render_demo_feed
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.specs import digest_spec, sqlite_ledger

pytestmark = pytest.mark.airflow

DAY = date(2026, 11, 24)
LOGICAL = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # the 03:00 run digests the day before


def make_repo(path: Path, commits: list[tuple[str, str]]) -> Path:
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org"}
    env.update(GIT_COMMITTER_NAME="Ada", GIT_COMMITTER_EMAIL="ada@example.org")
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for stamp, subject in commits:
        env_at = {**env, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        subprocess.run(
            ["git", "-C", str(path), "commit", "-q", "--allow-empty", "-m", subject], check=True, env=env_at
        )
    return path


def pick_first_refs(request):
    """A model that highlights the first two items it was offered, by their enum refs."""
    schema = request.body["response_format"]["json_schema"]["schema"]
    refs = schema["properties"]["highlights"]["items"]["properties"]["ref"]["enum"]
    answer = {
        "highlights": [{"ref": ref, "takeaway": f"Worth a look: item {i}"} for i, ref in enumerate(refs[:2])],
        "action_items": [{"ref": refs[0], "action": "Share it with the on-call team"}],
    }
    return reply(json.dumps(answer), prompt_tokens=400, completion_tokens=60)


@pytest.fixture
def job(tmp_path, model_server, llm_conn, smtp_server, s3_server, slack_server, monkeypatch):
    repo = make_repo(
        tmp_path / "repo",
        [
            ("2026-11-23T12:00:00+00:00", "Before the day"),
            ("2026-11-24T09:00:00+00:00", "Add the fetch step"),
            ("2026-11-24T15:30:00+00:00", "Fix the retry policy"),
            ("2026-11-25T08:00:00+00:00", "After the day"),
        ],
    )
    feed = tmp_path / "feed.xml"
    feed.write_text(render_demo_feed(DAY))
    spec = digest_spec(
        "digest_e2e",
        llm_conn,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
        sources={"git": {"repos": [str(repo)]}, "rss": {"feeds": [str(feed)]}},
        channels=[
            {"type": "email", "conn_id": smtp_server.conn_id, "to": ["team@example.org"]},
            {"type": "slack", "conn_id": slack_server.api_conn_id, "channel": "C0DIGEST"},
            {"type": "s3", "conn_id": s3_server.conn_id, "bucket": s3_server.bucket},
        ],
    )
    model_server.default_step = respond(pick_first_refs)
    return spec


def states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def rerun(dag, **kwargs):
    """Run the same logical date again, as a clear of the whole run does."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()
    return run_dag(dag, logical_date=LOGICAL, **kwargs)


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

"""A digest job whose only channel is a webhook, end to end with dag.test(): the scripted model,
a loopback receiver recording the POSTs, and a clear + rerun that posts nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjobs.sources.demo_feed import render_demo_feed
from tests.airflow.conftest import llm_conn, run_dag, xcom  # noqa: F401 (llm_conn: a fixture)
from tests.fakes.model_server import respond
from tests.jobs.specs import digest_spec, sqlite_ledger
from tests.scenarios.digest_job import DAY, LOGICAL, make_repo, pick_first_refs, rerun, states

pytestmark = pytest.mark.airflow


@pytest.fixture
def job(tmp_path, model_server, llm_conn, webhook_server, monkeypatch):  # noqa: F811
    repo = make_repo(
        tmp_path / "repo",
        [
            ("2026-11-24T09:00:00+00:00", "Add the fetch step"),
            ("2026-11-24T15:30:00+00:00", "Fix <b>retry</b>"),
        ],
    )
    feed = tmp_path / "feed.xml"
    feed.write_text(render_demo_feed(DAY))
    model_server.default_step = respond(pick_first_refs)
    return digest_spec(
        "webhook_e2e",
        llm_conn,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
        sources={"git": {"repos": [str(repo)]}, "rss": {"feeds": [str(feed)]}},
        channels=[{"type": "webhook", "conn_id": webhook_server.conn_id, "endpoint": "/digest"}],
    )


def test_the_digest_is_posted_once_and_a_cleared_run_posts_nothing_again(job, model_server, webhook_server):
    from agentjobs.operators.factory import build_dag

    dag = build_dag(job)
    run = run_dag(dag, logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)

    artifact = Path(xcom(run, "validate")["artifact"])
    (post,) = webhook_server.server.posts
    assert post.path.endswith("/digest")
    assert post.body["job"] == job.dag_id and post.body["day"] == str(DAY)
    assert post.body["title"] == f"Daily digest — {DAY}"
    assert "Add the fetch step" in post.body["text"] and "Worth a look: item 0" in post.body["text"]
    assert "<b>" not in post.body["text"]  # a commit subject's markup arrives as text, escaped once
    assert "Fix &lt;b&gt;retry&lt;/b&gt;" in post.body["text"]
    delivered = xcom(run, "deliver_webhook_0")
    assert delivered["delivered"] is True and delivered["attempt"] == 1

    # Clearing the whole run (as the UI's clear does) delivers nothing twice and pays no model call.
    calls = model_server.calls
    run = rerun(dag)
    assert set(states(run).values()) == {"success"}, states(run)
    assert len(webhook_server.server.posts) == 1
    assert model_server.calls == calls
    again = xcom(run, "deliver_webhook_0")
    assert again["delivered"] is False and "skipped: already delivered" in again["message"]

    # Asked to, a run posts the same digest again, and the ledger counts the second attempt.
    run = rerun(dag, run_conf={"force_redeliver": True})
    assert set(states(run).values()) == {"success"}, states(run)
    first, second = webhook_server.server.posts
    assert second.body == first.body and second.body["text"] == _inert(artifact.read_text())
    assert xcom(run, "deliver_webhook_0")["attempt"] == 2


def _inert(markdown: str) -> str:
    """The artifact's text as a receiver gets it: its markdown escapes undone, then `&<>` escaped
    once (a commit subject's `<b>` arrives as `&lt;b&gt;`, never `&amp;lt;b&gt;`)."""
    from agentjobs.delivery.channels.webhook import inert
    from agentjobs.jobs.markdown_text import shown_text

    text = inert(shown_text(markdown, backslashes=False))
    assert "&amp;lt;" not in text
    return text


def test_a_receiver_that_fails_fails_the_task_and_its_retry_posts_once(job, webhook_server):
    from agentjobs.operators.factory import build_dag

    spec = type(job).model_validate({**job.model_dump(), "retries": 1, "retry_delay_s": 0.1})
    webhook_server.server.fail_next(503)
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert states(run)["deliver_webhook_0"] == "success", states(run)
    failed, retried = webhook_server.server.posts  # the retry posted once more, the same digest
    assert failed.body == retried.body
    assert xcom(run, "deliver_webhook_0")["attempt"] == 2

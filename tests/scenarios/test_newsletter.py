"""The shipped weekly newsletter (include/jobs/weekly-newsletter.yaml) end to end with
dag.test(): its own sections only, its readers' email, and an alert for an empty week."""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agentjobs.sources.demo_feed import render_demo_feed
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.scenarios.digest_job import states

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[2]
# Monday 2026-11-30 06:00 in Berlin: the run covers Monday 23rd to Sunday 29th.
LOGICAL = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
READERS = "readers@example.org"


def shipped_newsletter(llm_conn: str, smtp_conn_id: str, feed: Path):
    """The shipped spec, pointed at the test's model, mail server and feed (nothing else changed)."""
    from agentjobs.jobs.spec import JobSpec, load_spec

    data = load_spec(REPO / "include" / "jobs" / "weekly-newsletter.yaml").model_dump()
    data.update(dag_id=f"weekly_newsletter_{uuid.uuid4().hex[:8]}", llm_conn_id=llm_conn, retries=0)
    data["sources"]["rss"]["feeds"] = [str(feed)]
    assert data["alert"] is not None, "the shipped newsletter names no alert channel"
    for channel in [*data["channels"], data["alert"]]:
        channel["conn_id"] = smtp_conn_id
    return JobSpec.model_validate(data)


def pick_two_articles(request):
    schema = request.body["response_format"]["json_schema"]["schema"]
    refs = schema["properties"]["highlights"]["items"]["properties"]["ref"]["enum"]
    picks = [{"ref": ref, "takeaway": f"Read this: article {i}"} for i, ref in enumerate(refs[:2])]
    answer = {"highlights": picks}
    return reply(json.dumps(answer), prompt_tokens=300, completion_tokens=40)


def mails_to(smtp_server, address: str) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(m.content, policy=email.policy.default)
        for m in smtp_server.messages
        if m.rcpt_tos == [address]
    ]


def test_the_newsletter_mails_its_reading_list_without_the_digests_empty_sections(
    llm_conn, model_server, smtp_server, tmp_path
):
    from agentjobs.operators.factory import build_dag

    feed = tmp_path / "feed.xml"
    feed.write_text(render_demo_feed(date(2026, 11, 26)))
    spec = shipped_newsletter(llm_conn, smtp_server.conn_id, feed)
    model_server.default_step = respond(pick_two_articles)
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)

    # The model is asked for a reading list only: no action items in the schema or the prompt.
    (request,) = model_server.requests
    schema = request.body["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["highlights"]
    assert "act" not in request.body["messages"][-1]["content"].split("<data>")[0].split()

    (message,) = mails_to(smtp_server, READERS)
    assert message["Subject"] == "Weekly reading list: week ending 2026-11-29"
    text = message.get_body(("plain",)).get_content()
    assert "## Tech highlights" in text and text.count("Read this: article") == 2
    for digest_only in ("## Commits", "No commits.", "## Action items", "None today."):
        assert digest_only not in text, text
    assert xcom(run, "validate")["items"] == 2
    assert mails_to(smtp_server, "newsletter-oncall@example.org") == []


def test_an_empty_week_pages_the_alert_channel_and_mails_the_readers_nothing(
    llm_conn, model_server, smtp_server, tmp_path
):
    from agentjobs.operators.factory import build_dag

    feed = tmp_path / "feed.xml"
    feed.write_text(render_demo_feed(date(2026, 11, 10)))  # articles, but none this week
    spec = shipped_newsletter(llm_conn, smtp_server.conn_id, feed)
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert states(run)["summarize"] == "failed", states(run)
    assert model_server.calls == 0
    assert mails_to(smtp_server, READERS) == []
    (alert,) = mails_to(smtp_server, "newsletter-oncall@example.org")
    body = " ".join(alert.get_body(("plain",)).get_content().split())
    assert "Weekly reading list" in body and "covering 2026-11-23 to 2026-11-29" in body, body
    assert "EmptyResult" in body, body


def test_a_spec_names_each_section_once(tmp_path):
    from agentjobs.jobs.spec import JobSpecError, load_spec

    spec = tmp_path / "twice.yaml"
    spec.write_text(
        "dag_id: twice\ntitle: T\nstart_date: 2026-11-01\nskill: weekly-newsletter\n"
        "sections: [highlights, highlights]\nsources: {rss: {feeds: [x.xml]}}\n"
    )
    with pytest.raises(JobSpecError, match=r"field 'sections'.*each section once"):
        load_spec(spec)

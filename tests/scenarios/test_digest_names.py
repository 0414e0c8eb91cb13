"""The digest DAG with a model that names what the day does not hold, through dag.test().

Structured mode: the takeaways and actions naming an invented repository, person or file, or a
near miss of a name of the day, are not delivered; the picks are, with title and link, and the
drops are recorded (log, transcript, XCom). Loop mode: validate fails with one alert quoting
the name, and nothing is delivered."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
from pathlib import Path

import pytest

from agentjobs.sources.demo_feed import demo_item_urls, render_demo_feed
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond, tool_call
from tests.jobs.specs import digest_spec
from tests.scenarios.digest_job import DAY, LOGICAL, make_repo, states

pytestmark = pytest.mark.airflow

# What the model writes about the first five demo articles, and the name each one invents.
TAKEAWAYS = [
    ("Ada's fetch step can use asset events instead of sensors", None),  # Ada wrote the commits
    ("Port the caps to acme/web as well", "acme/web"),
    ("Grace Hopper proposed the same caps", "Hopper"),
    ("The change lives in nightly_summary.py", "nightly_summary.py"),
    ("Works with Airflo 3 out of the box", "Airflo"),  # near miss of Airflow
]
ACTIONS = [
    ("Ask Ada to add the fetch step to the retry policy", None),
    ("Ask Linus Torvalds to review the retry policy", "Linus Torvalds"),
]


def inventive_model(request):
    """Highlights the demo articles in feed order, and names what the day lacks in most of them."""
    schema = request.body["response_format"]["json_schema"]["schema"]
    refs = schema["properties"]["highlights"]["items"]["properties"]["ref"]["enum"]
    articles = [ref for ref in demo_item_urls() if ref in refs]
    answer = {
        "highlights": [
            {"ref": ref, "takeaway": text}
            for ref, (text, _) in zip(articles[: len(TAKEAWAYS)], TAKEAWAYS, strict=True)
        ],
        "action_items": [{"ref": articles[3 + i], "action": text} for i, (text, _) in enumerate(ACTIONS)],
    }
    return reply(json.dumps(answer), prompt_tokens=400, completion_tokens=120)


@pytest.fixture
def day_sources(tmp_path: Path) -> dict:
    repo = make_repo(
        tmp_path / "repo",
        [
            ("2026-11-24T09:00:00+00:00", "Add the fetch step"),
            ("2026-11-24T15:30:00+00:00", "Fix the retry policy"),
        ],
    )
    feed = tmp_path / "feed.xml"
    feed.write_text(render_demo_feed(DAY))
    return {"git": {"repos": [str(repo)]}, "rss": {"feeds": [str(feed)]}}


def test_structured_takeaways_naming_what_the_day_lacks_are_dropped_and_recorded(
    llm_conn, model_server, smtp_server, day_sources
):
    from agentjobs.operators.factory import build_dag

    model_server.default_step = respond(inventive_model)
    team = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["team@example.org"]}
    spec = digest_spec("digest_names", llm_conn, sources=day_sources, channels=[team])
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)

    validated = xcom(run, "validate")
    digest = Path(validated["artifact"]).read_text()
    highlights = digest.split("## Tech highlights")[1].split("##")[0]
    actions = digest.split("## Action items (if any)")[1]
    urls = demo_item_urls()
    # Every pick is delivered with its title and link; only the grounded words with it.
    assert [
        line.split("(<")[1].rstrip(">)") for line in highlights.splitlines() if line.startswith("- ")
    ] == urls[:5]
    assert f"— {TAKEAWAYS[0][0]} (<{urls[0]}>)" in highlights
    assert (
        f"— {ACTIONS[0][0]} (<{urls[3]}>)" in actions
        and f"- Structured outputs with JSON Schema (<{urls[4]}>)" in actions
    )
    (mail,) = smtp_server.messages
    sent = (
        email.message_from_bytes(mail.content, policy=email.policy.default).get_body(("plain",)).get_content()
    )
    for text, name in TAKEAWAYS + ACTIONS:
        if name:
            assert text not in digest and text not in sent
    assert validated["items"] == 2 + 5 + 2

    # What was dropped, and why: in XCom, in the transcript beside the digest.
    dropped = xcom(run, "summarize", key="dropped")
    expected = [
        (s, n) for s, pairs in (("highlights", TAKEAWAYS), ("actions", ACTIONS)) for _, n in pairs if n
    ]
    assert [(d["section"], d["name"]) for d in dropped] == expected
    assert dropped[1]["text"] == TAKEAWAYS[2][0] and dropped[1]["ref"] == urls[2]
    transcript = Path(validated["artifact"]).parent / "transcript.jsonl"
    events = [json.loads(line) for line in transcript.read_text().splitlines()]
    recorded = [e for e in events if e["event"] == "dropped"]
    assert [e["name"] for e in recorded] == [n for _, n in expected]
    assert "names 'acme/web', which is in no item of the snapshot" in recorded[0]["reason"]


@pytest.mark.parametrize(
    ("takeaway", "name"),
    [
        ("Port the caps to acme/web as well", "acme/web"),
        ("Grace Hopper proposed the same caps", "Hopper"),
        ("The change lives in nightly_summary.py", "nightly_summary.py"),
        ("Works with Airflo 3 out of the box", "Airflo"),
    ],
)
def test_a_loop_digest_naming_what_the_day_lacks_fails_validation_with_one_alert_and_is_not_delivered(
    takeaway, name, llm_conn, model_server, smtp_server, day_sources
):
    from agentjobs.operators.factory import build_dag

    repo = day_sources["git"]["repos"][0]
    log = subprocess.run(
        ["git", "-C", repo, "log", "--reverse", "--format=%h %s"], capture_output=True, text=True, check=True
    )
    commits = "\n".join(f"- {line}" for line in log.stdout.splitlines())
    urls = demo_item_urls()
    digest = (
        f"# Daily digest — 2026-11-24\n\n## Commits\n\n{commits}\n\n## Tech highlights\n\n"
        f"- Capping LLM agent spend per task instance — Useful: Ada's caps hold across retries ({urls[1]})\n"
        f"- Running a local model for nightly summaries — {takeaway} ({urls[2]})\n\n"
        "## Action items (if any)\n\nNone today.\n"
    )
    model_server.script(
        tool_call("write_file", {"path": "digest.md", "content": digest}),
        reply('Written.\nRESULT: {"path": "digest.md", "items": 4}'),
    )
    team = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["team@example.org"]}
    alert = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    spec = digest_spec(
        "digest_names_loop", llm_conn, mode="loop", sources=day_sources, channels=[team], alert=alert
    )
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert states(run)["summarize"] == "success"
    assert states(run)["validate"] == "failed"
    assert states(run)["deliver_email_0"] == "upstream_failed"
    (mail,) = smtp_server.messages  # the alert; the team got nothing
    assert mail.rcpt_tos == ["oncall@example.org"]
    text = (
        email.message_from_bytes(mail.content, policy=email.policy.default).get_body(("plain",)).get_content()
    )
    assert "ContractViolation" in text
    assert f"Tech highlights bullet 2 names {name!r}, which is in no item of the snapshot" in " ".join(
        text.split()
    )
    assert "bullet 1" not in text  # Ada (the commits' author) and the clause's first word pass

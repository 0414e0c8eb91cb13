"""Hostile text from every source, through the whole digest DAG, to what SMTP and Slack receive.

Feed titles (a local RSS file), GitHub pull request, issue, release and commit titles (the
loopback GitHub replay) and local git commit subjects carry links to javascript: and data:
URLs, tracking pixels, attribute lists, Slack mentions, faked link labels and NUL
characters; the model, which read them, writes takeaways with more of the same. The run
must succeed, and the email (aiosmtpd) and the Slack messages (the fake Slack: API and
webhook) may hold only text, formatting and links to the snapshot's http(s) URLs.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from agentjobs.jobs.spec import JobSpec
from agentjobs.sources.snapshot import Snapshot
from tests.airflow.conftest import run_dag, xcom
from tests.delivery.inert import assert_inert_html, assert_inert_slack, assert_no_bidi_controls, hrefs
from tests.fakes.github import commit, issue, pull, release
from tests.fakes.model_server import reply, respond
from tests.fakes.slack import WEBHOOK_PATH
from tests.jobs.specs import digest_spec, sqlite_ledger
from tests.scenarios.digest_job import LOGICAL, make_repo, states

pytestmark = pytest.mark.airflow

NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PIXEL = "https://tracker.example/pixel.gif?u=team"

# Per source, texts that a renderer passing them through would turn into live markup.
FEED_TITLES = [
    "[Advisory](javascript:alert(document.cookie))",
    f"![]({PIXEL}) Weekly notes",
    'Faster builds {: onclick="alert(1)" }',
    "&lt;!channel&gt; outage report",  # the feed's own escaping: the title reads "<!channel> ..."
    # A right-to-left override: `cod.exe` would show as `exe.doc` (and a URL quoted around it).
    "Invoice \u202ecod.exe from https://files.example.org/\u2067fdp.exe\u2069 attached",
]
GITHUB_TITLES = {
    "pull": "[Advisory](!channel) merge now",
    "issue": "[Signed release|https://github.com/acme/app](https://evil.example/login) <!here>",
    "release": "![logo](data:image/png;base64,iVBORw0KGgo=) <@U024BE7LH>",
    "commit": "Fix \x005\x00 and \x000\x00 markers",
}
GIT_SUBJECTS = [
    "[Deploy](javascript:alert(1)) <!channel>",
    "Add \u202ecod.exe\u202c and \u200fnotes",
    "Add <img src=x onerror=alert(1)> {: .x onclick=alert(1)} <#C024BE7LR>",
]
TAKEAWAYS = [
    "[Read it](javascript:alert(1)) <!channel>",
    f"![track]({PIXEL}) {{: onmouseover=alert(1) }}",
    # A URL from a title (so no invented link): still only text in a label faking a target.
    "<@U024BE7LH> [docs|https://github.com/acme/app](data:text/html,hi)",
]


def rss_feed(path: Path) -> Path:
    items = "".join(
        f"<item><title>{escape(title)}</title><link>https://blog.example.org/post-{i}</link>"
        f"<pubDate>Tue, 24 Nov 2026 {8 + i:02d}:00:00 +0000</pubDate>"
        f"<description>{escape('<img src=' + PIXEL + '> [x](javascript:1)')}</description></item>"
        for i, title in enumerate(FEED_TITLES)
    )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Eng blog</title><link>https://blog.example.org/</link><description>d</description>{items}"
        "</channel></rss>",
        encoding="utf-8",
    )
    return path


def hostile_judge(request):
    """A model fooled by what it read: it picks every item it may and writes markup in its takeaways."""
    schema = request.body["response_format"]["json_schema"]["schema"]
    highlights = schema["properties"]["highlights"]
    refs = highlights["items"]["properties"]["ref"]["enum"]
    answer = {
        "highlights": [
            {"ref": ref, "takeaway": TAKEAWAYS[i % len(TAKEAWAYS)]}
            for i, ref in enumerate(refs[: highlights["maxItems"]])
        ],
        "action_items": [{"ref": refs[-1], "action": TAKEAWAYS[0]}],
    }
    return reply(json.dumps(answer), prompt_tokens=400, completion_tokens=60)


@pytest.fixture
def hostile_job(
    tmp_path, model_server, llm_conn, github_api, smtp_server, slack_server, monkeypatch
) -> JobSpec:
    repo = make_repo(
        tmp_path / "repo", [(f"2026-11-24T{9 + i:02d}:00:00+00:00", s) for i, s in enumerate(GIT_SUBJECTS)]
    )
    gh_release = release("acme/app", "v2.0.0", NOON)
    gh_release["name"] = GITHUB_TITLES["release"]
    github_api.add_repo(
        "acme/app",
        commits=[commit("acme/app", "c0ffee1", GITHUB_TITLES["commit"] + "\n\nbody", NOON)],
        pulls=[pull("acme/app", 7, GITHUB_TITLES["pull"], NOON - timedelta(hours=2), merged=NOON)],
        issues=[issue("acme/app", 8, GITHUB_TITLES["issue"], NOON)],
        releases=[gh_release],
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_GITHUB_TEST",
        json.dumps({"conn_type": "generic", "host": github_api.base_url, "password": "ghp_" + "x" * 36}),
    )
    model_server.default_step = respond(hostile_judge)
    return digest_spec(
        "digest_hostile",
        llm_conn,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
        highlights_max=20,
        sources={
            "git": {"repos": [str(repo)]},
            "github": {"repos": ["acme/app"], "conn_id": "github_test"},
            "rss": {"feeds": [str(rss_feed(tmp_path / "feed.xml"))]},
        },
        channels=[
            {"type": "email", "conn_id": smtp_server.conn_id, "to": ["team@example.org"]},
            {"type": "slack", "conn_id": slack_server.api_conn_id, "channel": "C0DIGEST"},
            {"type": "slack", "conn_id": slack_server.webhook_conn_id},
        ],
    )


def test_hostile_text_from_every_source_is_delivered_as_text(hostile_job, smtp_server, slack_server):
    from agentjobs.operators.factory import build_dag

    run = run_dag(build_dag(hostile_job), logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    artifact = Path(xcom(run, "validate")["artifact"])
    snapshot = Snapshot.load(artifact.parent)
    # Every source delivered its payloads into the snapshot (so the test checks something).
    assert {e.title for e in snapshot.entries} >= {FEED_TITLES[0], "<!channel> outage report"}
    assert {c.subject for c in snapshot.commits} >= {*GIT_SUBJECTS, GITHUB_TITLES["commit"]}
    assert [p.title for p in snapshot.pull_requests] == [GITHUB_TITLES["pull"]] * 2  # opened, merged
    links = snapshot.urls()

    (mail,) = smtp_server.messages
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    assert_inert_html(html, links)
    assert "<img" not in html and "\x00" not in html
    # The picked items are links, to their snapshot URLs and nothing else.
    assert set(hrefs(html)) == {u for u in links if "blog.example.org" in u or "github.com" in u} - {
        c.url for c in snapshot.commits
    }
    # And the team reads the hostile titles as the text they are.
    assert "[Advisory](javascript:alert(document.cookie))" in html
    assert "[Advisory](!channel) merge now" in html
    assert "[Deploy](javascript:alert(1)) &lt;!channel&gt;" in html
    # Bidi controls are dropped (assert_inert_html): the names read in the order they were stored.
    assert "Invoice cod.exe from https://files.example.org/fdp.exe attached" in html
    assert "Add cod.exe and notes" in html

    (post,) = slack_server.server.calls("/api/chat.postMessage")
    (hook,) = slack_server.server.calls(WEBHOOK_PATH)
    for payload in (post.params, hook.params):
        assert_inert_slack(payload["blocks"], links)
        assert "<" not in payload["text"]
        sections = "\n".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
        assert "[Advisory](!channel) merge now" in sections
        assert "&lt;!channel&gt; outage report" in sections
        assert "Fix 5 and 0 markers" in sections
        assert "Invoice cod.exe from https://files.example.org/fdp.exe attached" in sections
        assert "Add cod.exe and notes" in sections
        assert_no_bidi_controls(payload["text"])
        assert "<https://github.com/acme/app/pull/7>" in sections

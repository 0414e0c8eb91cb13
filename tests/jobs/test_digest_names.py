"""The digest names only what its snapshot holds: takeaways and action items, both modes.

Structured mode drops a takeaway or action that names a repository, file, person or product
the snapshot lacks (the pick stays, with its title and link); loop mode's digest.md fails
validation quoting the name. The realistic takeaways below were written from the demo feed and
from pull requests titled with this project's commit subjects, as a capable model writes them:
they must pass, so the check does not fail a good digest for its prose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agentjobs.agent.errors import ContractViolation
from agentjobs.jobs.digest import SECTION_ACTIONS, SECTION_HIGHLIGHTS, known_names, render, structured_prompt
from agentjobs.jobs.digest_check import check_digest, sections
from agentjobs.sources.demo_feed import render_demo_feed
from agentjobs.sources.rss import fetch_feeds
from agentjobs.sources.snapshot import Snapshot
from tests.jobs.test_digest_render import DAY, PERIOD, commit, entry, pull, snapshot

# Pull requests titled with commit subjects of this project's history (2026-11-25 to 11-27).
HISTORY = (
    "Scheduler tests: a backfill refused by a locked SQLite metadata DB (503 'Database is locked' "
    "or the audit log's 500) is sent again, as Airflow asks, after checking nothing was left "
    "behind; README says so",
    "Alerts also pass through Airflow's own secrets masker: a connection password with no "
    "recognisable shape is masked too",
    "Parsing the jobs DAG file no longer imports the openai SDK (1.12 s -> 0.31 s, "
    "bench/dag_parse.py); the provider declares its alert notifier",
    "Job DAGs find their skills beside the specs (include/skills of the project) whatever folder "
    "the worker runs in, unless AGENTJOBS_SKILLS_DIR names another",
    "Scheduler tests for unattended failures: a hung model ends at the time cap and the next run "
    "starts; transient errors retry with exponential backoff; permanent ones fail at once with one alert",
    "Daily digest DAG: sources (git, RSS, GitHub), structured summarize, contract validation, "
    "ledger-backed email/Slack/S3 delivery, jobs from YAML",
    "Slack re-delivery edits the message it posted (by its stored ts) unless the channel says otherwise",
    "Replay paid model calls on retry (one atomic state-store write per call); digest check: URLs "
    "from anywhere in the snapshot, parenthesised links, duplicate SHAs across sources",
    "Job health: run log of successes and failures, hourly agentjobs_health DAG alerting on stale "
    "or failing jobs once a day",
    "Real-scheduler tests: backfill three days, clear twice, force re-delivery, against "
    "api-server/scheduler/dag-processor/triggerer on PostgreSQL",
)

FEED_TEXTS = [
    "Asset events can replace our cross-DAG sensors and free the worker slots they hold",
    "Three patterns that hold up in production; worth reading before the next DAG refactor",
    "Relevant if you chain DAGs: asset events make the dependency explicit",
    "Caps checked before each model call stop a runaway agent across retries",
    "Token, cost and wall-clock caps per task instance: the pattern our budget meter follows",
    "Useful for anyone running LLM agents unattended on Airflow",
    "Explains why the cap must count spend across retries, not per try",
    "A small quantized model on a CPU box is enough for a nightly digest and costs nothing",
    "Good news for self-hosting: no API key needed for the digest",
    "Confirms that a quantized model on CPU is fine for summaries like ours",
    "A contract violation should fail at once; a 429 deserves another try",
    "Clear rule for retries: transient errors retry, permanent ones alert immediately",
    "Matches our job retry policy; worth sharing with the on-call rotation",
    "Constraining replies with response_format and validating strictly avoids repair loops",
    "JSON Schema plus strict validation keeps small models on the rails",
    "Practical guide to response_format; relevant to our structured mode",
    "Feeds, issues and commit messages can carry instructions; read them as data",
    "A reminder that prompt injection arrives through feeds and issues",
    "Security read: every fetched text is data, never an instruction",
    "Deferrable operators free worker slots while waiting on external systems",
    "The triggerer lets long waits cost nothing on the workers",
    "Checking every link and SHA against the snapshot catches invented references",
    "Automated evals for digests: verify links and SHAs instead of eyeballing",
    "Compare our budget caps with the article's wall-clock cap",
    "Review the feed source for instructions passed to the model",
    "Check that contract violations fail without retry",
]
HISTORY_TEXTS = [
    "Backfills no longer fail on a locked SQLite DB: the request is sent again, as Airflow asks",
    "Fewer flaky scheduler runs on SQLite; PostgreSQL was never affected",
    "Retries a 503 from the metadata DB only after checking nothing was left behind",
    "Passwords with no recognisable shape can no longer leak into alerts",
    "Defence in depth: the secrets masker now sees every alert",
    "DAG parsing is about four times faster without the openai SDK import",
    "Faster parse means the dag-processor keeps up with more job specs",
    "Cuts parse time; see bench/dag_parse.py for the numbers",
    "Workers no longer depend on their working folder to find skills",
    "Set AGENTJOBS_SKILLS_DIR to point job DAGs at another skills folder",
    "Proves the unattended story end to end: hung models, retries and alerts behave as documented",
    "Transient errors back off exponentially while permanent ones page once",
    "The first end-to-end digest: git, RSS and GitHub in, email, Slack and S3 out",
    "Ledger-backed delivery means a rerun never sends twice",
    "Forced re-delivery edits the Slack message instead of posting a duplicate",
    "No more double posts in the channel after a rerun",
    "Retries replay paid model calls instead of paying twice",
    "Cheaper retries: answers already paid for are kept in the state store",
    "Stale or failing jobs now page once a day through agentjobs_health",
    "Silent failures get caught: the health DAG watches every job's last success",
    "Rotate any password that may have reached an alert before this fix",
    "Point the health alerts at the on-call email list",
    "Merge this PR before the next backfill on PostgreSQL",
]


def demo_feed_day(tmp_path: Path) -> Snapshot:
    """The demo feed's day as the RSS source reads it, with this project's history as pull requests."""
    feed = tmp_path / "demo.xml"
    feed.write_text(render_demo_feed(DAY), encoding="utf-8")
    rss = fetch_feeds([str(feed)], PERIOD.start, PERIOD.end)
    pulls = [pull(100 + i, title, repo="acme/agentjobs") for i, title in enumerate(HISTORY)]
    commits = [commit(title, i, repo="acme/agentjobs") for i, title in enumerate(HISTORY)]
    return snapshot(entries=rss.entries, pull_requests=pulls, commits=commits)


@pytest.mark.parametrize("text", FEED_TEXTS + HISTORY_TEXTS)
def test_realistic_takeaways_name_nothing_the_snapshot_lacks(text, tmp_path):
    # The kinds' rules fail 18 of these 49: 17 for a first word no fixed list holds (Useful,
    # Explains, Cheaper, Rotate), one for words the data holds apart (SQLite DB).
    assert known_names(demo_feed_day(tmp_path)).unknown(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # Products, people, repositories and files the day's items never mention.
        ("Shows how to drop ExternalTaskSensor in favour of asset-aware scheduling", "ExternalTaskSensor"),
        ("Jobs are now YAML specs rather than Python, so nothing to compile", "Python"),
        ("Add the SMTP connection before enabling the DAG", "SMTP"),
        ("Ask Grace Hopper to review the retry policy", "Grace Hopper"),
        ("Port the fix to acme/web before Friday", "acme/web"),
        ("The change lives in src/agentjobs/retry.py", "src/agentjobs/retry.py"),
        ("Useful for Kubernetes Operators too", "Kubernetes Operators"),
        # Near misses of names the day holds.
        ("Backfills on a locked SQLLite DB are sent again", "SQLLite DB"),
        ("Port the fix to acme/agentjbos too", "acme/agentjbos"),
        ("Point AGENTJOBS_SKILLS_PATH at another folder", "AGENTJOBS_SKILLS_PATH"),
        ("Numbers are in bench/dag_parse.txt", "bench/dag_parse.txt"),
        ("Grace Hopper asked for this", "Hopper"),  # an opener is trimmed, the rest is still named
    ],
)
def test_a_name_the_day_lacks_is_found(text, name, tmp_path):
    assert known_names(demo_feed_day(tmp_path)).unknown(text) == [name]


def test_names_of_the_day_pass_as_written(tmp_path):
    day = demo_feed_day(tmp_path)
    names = known_names(day)
    # The author, a repository, a file, a feed name, product names from titles and summaries.
    for text in [
        "Ada's retry fix in acme/agentjobs is worth a read",
        "See bench/dag_parse.py and the agentjobs demo feed",
        "Airflow 3 asset events replace cross-DAG sensors",
        "GitHub, Slack and S3 are covered; PostgreSQL too",
    ]:
        assert names.unknown(text) == [], text


def structured_answer(snap: Snapshot, texts: dict[str, str]) -> dict:
    refs = [p.url for p in snap.pull_requests]
    return {
        "highlights": [{"ref": refs[i], "takeaway": t} for i, t in enumerate(texts.values())],
        "action_items": [{"ref": refs[0], "action": "Ask Grace Hopper to double-check the masker"}],
    }


def test_structured_mode_drops_a_takeaway_that_names_what_the_day_lacks_and_keeps_the_pick(tmp_path):
    snap = demo_feed_day(tmp_path)
    texts = {
        "kept": "Backfills no longer fail on a locked SQLite DB",
        "repo": "Port this to acme/web as well",
        "person": "Grace Hopper asked for this one",
        "file": "The fix is in scheduler_retry.py",
        "near miss": "Fewer flaky runs on SQLLite",
    }
    rendered = render(
        snap, structured_answer(snap, texts), title="Daily digest", period=PERIOD, commits_cap=30
    )
    highlights = [line for line in sections(rendered.markdown)[SECTION_HIGHLIGHTS] if line.strip()]
    pulls = snap.pull_requests
    assert highlights == [
        f"- acme/agentjobs#100 {_as_md(pulls[0].title)} — {texts['kept']} (<{pulls[0].url}>)",
        *(f"- acme/agentjobs#{p.number} {_as_md(p.title)} (<{p.url}>)" for p in pulls[1:5]),
    ]
    actions = [line for line in sections(rendered.markdown)[SECTION_ACTIONS] if line.strip()]
    assert actions == [f"- acme/agentjobs#100 {_as_md(pulls[0].title)} (<{pulls[0].url}>)"]
    assert [(d.section, d.ref, d.name) for d in rendered.dropped] == [
        ("highlights", pulls[1].url, "acme/web"),
        ("highlights", pulls[2].url, "Hopper"),
        ("highlights", pulls[3].url, "scheduler_retry.py"),
        ("highlights", pulls[4].url, "SQLLite"),
        ("actions", pulls[0].url, "Grace Hopper"),
    ]
    assert rendered.dropped[1].text == texts["person"]
    assert "names 'Hopper', which is in no item of the snapshot" in rendered.dropped[1].reason()
    # The picks still count, and what is rendered passes validation.
    assert rendered.items == 10 + 5 + 1
    (tmp_path / "digest.md").write_text(rendered.markdown, encoding="utf-8")
    check_digest(
        tmp_path, {"path": "digest.md", "items": rendered.items}, snap, commits_cap=30, allow_empty=False
    )


def _as_md(title: str) -> str:
    from agentjobs.jobs.markdown_text import as_text

    return as_text(title)


def test_a_copy_of_the_prompts_example_is_dropped_and_the_pick_stays():
    """The embedded model copies the example takeaway onto any item, where it claims what the
    item never said: the highlight stays (title and link), the copied words are not delivered."""
    snap = snapshot(pull_requests=[pull(7, "Add importer")])
    prompt = structured_prompt(snap, PERIOD, highlights_max=3)
    example = json.loads(re.search(r"^Example: (\{.*\})$", prompt, re.MULTILINE).group(1))
    (taken,) = example["highlights"]
    assert known_names(snap).unknown(taken["takeaway"]) == []  # the example names nothing
    url = snap.pull_requests[0].url
    for copy in (taken["takeaway"], taken["takeaway"].lower() + ".", "  " + taken["takeaway"] + "!"):
        copied = {"highlights": [{"ref": url, "takeaway": copy}]}
        rendered = render(snap, copied, title="Daily digest", period=PERIOD, commits_cap=30)
        assert "back off" not in rendered.markdown and "Add importer" in rendered.markdown
        assert rendered.items == 1
        (drop,) = rendered.dropped
        assert drop.ref == url and "copies the prompt's example" in drop.reason()
    own = {"highlights": [{"ref": url, "takeaway": "Retries back off now, per the importer PR"}]}
    rendered = render(snap, own, title="Daily digest", period=PERIOD, commits_cap=30)
    assert rendered.dropped == [] and "Retries back off now" in rendered.markdown


def loop_digest(snap: Snapshot, takeaway: str, action: str = "None today.") -> str:
    pr = snap.pull_requests[0]
    actions = f"- {pr.title} — {action} ({pr.url})" if action != "None today." else action
    return (
        "# Daily digest — 2026-11-24\n\n## Commits\n\nNo commits.\n\n## Tech highlights\n\n"
        f"- **{pr.title}** — {takeaway} ({pr.url})\n\n## Action items (if any)\n\n{actions}\n"
    )


def check_loop(tmp_path: Path, snap: Snapshot, markdown: str, items: int) -> str:
    (tmp_path / "digest.md").write_text(markdown, encoding="utf-8")
    return check_digest(
        tmp_path,
        {"path": "digest.md", "items": items},
        snap,
        commits_cap=30,
        allow_empty=False,
        job_sections=("highlights", "actions"),
    )


@pytest.mark.parametrize(
    ("takeaway", "action", "name"),
    [
        ("Port it to acme/web before the release", "None today.", "acme/web"),
        ("Useful for everyone", "Ask Grace Hopper to review it", "Grace Hopper"),
        ("The change lives in importer_v2.py", "None today.", "importer_v2.py"),
        ("Imports from Globexx now work", "None today.", "Globexx"),  # near miss of Globex
    ],
)
def test_loop_mode_validation_fails_quoting_the_name(takeaway, action, name, tmp_path):
    snap = snapshot(pull_requests=[pull(7, "Add the Globex importer")], commits=[])
    items = 1 + (action != "None today.")
    with pytest.raises(ContractViolation) as failure:
        check_loop(tmp_path, snap, loop_digest(snap, takeaway, action), items)
    section = "Action items (if any)" if action != "None today." else "Tech highlights"
    assert f"{section} bullet 1 names {name!r}, which is in no item of the snapshot" in str(failure.value)


def test_loop_mode_names_of_the_snapshot_pass(tmp_path):
    snap = snapshot(pull_requests=[pull(7, "Add the Globex importer")], commits=[])
    markdown = loop_digest(
        snap, "Useful: Globex files import in acme/app now", "Tell the Globex team the import is in"
    )
    assert check_loop(tmp_path, snap, markdown, 2) == markdown


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Worth wiring into CI/CD before the next release", "Fast CI/CD pipelines for Airflow"),
        ("Node.js users get the fix for free", "Node.js 24 ships a new test runner"),
        ("Kubernetes Operators can now defer", "Deferrable operators on Kubernetes"),
    ],
)
def test_a_tech_name_passes_when_the_day_mentions_it_and_fails_when_not(text, title):
    """Tech words are grounded by the day's own text, not by a list: the same takeaway passes
    under an article that mentions them and fails under one that does not."""
    about = snapshot(entries=[entry("about", title)])
    other = snapshot(entries=[entry("other", "Retry policies: transient versus permanent failures")])
    assert known_names(about).unknown(text) == []
    assert known_names(other).unknown(text) != []

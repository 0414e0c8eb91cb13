"""check_digest: a digest that keeps the contract passes, and each way of breaking it is named.

The digests are produced by `render_digest` (so a round trip must pass) and then broken
the way a model writing digest.md by hand could break them.
"""

from __future__ import annotations

import re

import pytest

from agentjobs.agent.errors import ContractViolation
from agentjobs.jobs.digest import DIGEST_FILE
from agentjobs.jobs.digest_check import check_digest
from agentjobs.sources.snapshot import Commit, FeedEntry, Snapshot, SourceNote
from tests.jobs.test_digest_render import T0, commit, entry, issue, pull, release, render, snapshot


def check(work_dir, snap: Snapshot, markdown: str | None, items: int, *, cap: int = 30, **kwargs) -> str:
    if markdown is not None:
        (work_dir / DIGEST_FILE).write_text(markdown, encoding="utf-8")
    result = {"path": kwargs.pop("path", DIGEST_FILE), "items": items}
    return check_digest(work_dir, result, snap, commits_cap=cap, allow_empty=kwargs.pop("allow_empty", False))


def violation(work_dir, snap: Snapshot, markdown: str | None, items: int, **kwargs) -> str:
    with pytest.raises(ContractViolation) as caught:
        check(work_dir, snap, markdown, items, **kwargs)
    return str(caught.value)


def busy_day() -> tuple[Snapshot, dict]:
    commits = [commit(f"App change {i}", i) for i in range(4)]
    commits += [commit(f"Lib change {i}", 10 + i, repo="acme/lib") for i in range(3)]
    pr, rel, post, bug = (
        pull(7, "Add importer"),
        release("v1.2.0"),
        entry("r", "Retry budgets"),
        issue(3, "Crash"),
    )
    snap = snapshot(
        commits=commits,
        pull_requests=[pr],
        releases=[rel],
        entries=[post],
        issues=[bug],
        notes=[SourceNote(source="github:acme/gone", problem="repository not found: skipped")],
    )
    answer = {
        "highlights": [
            {"ref": rel.url, "takeaway": "The importer ships"},
            {"ref": post.url, "takeaway": "Why our pager fired twice"},
        ],
        "action_items": [{"ref": bug.url, "action": "Triage the crash before the release"}],
    }
    return snap, answer


def one_repo(n: int = 5) -> Snapshot:
    return snapshot(commits=[commit(f"Change {i}", i) for i in range(n)])


# --- Round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [1, 3, 5, 7, 30])
def test_a_rendered_digest_of_several_repositories_passes(tmp_path, cap):
    snap, answer = busy_day()
    markdown, items = render(snap, answer, cap=cap)
    assert ("more commits" in markdown) == (cap < 7)
    assert check(tmp_path, snap, markdown, items, cap=cap) == markdown


@pytest.mark.parametrize("cap", [2, 5, 30])
def test_a_rendered_digest_of_one_repository_passes(tmp_path, cap):
    snap = one_repo(5)
    markdown, items = render(snap, cap=cap)
    assert check(tmp_path, snap, markdown, items, cap=cap) == markdown


def test_a_snapshot_url_followed_by_punctuation_is_not_flagged(tmp_path):
    post = entry("retries", "Retry budgets")
    snap = snapshot(entries=[post])
    markdown = (
        "# Daily digest — 2026-11-24\n\n## Commits\n\nNo commits.\n\n## Tech highlights\n\n"
        f"- Retry budgets — read it ({post.url}).\n"
        f"- Retry budgets again — see {post.url}, then {post.url}; done\n\n"
        f"## Action items (if any)\n\nSee ({post.url}).\n"
    )
    assert check(tmp_path, snap, markdown, 2) == markdown


# --- Each failure, named -------------------------------------------------------------------


def test_a_result_path_other_than_digest_md_is_rejected(tmp_path):
    snap = one_repo(2)
    markdown, items = render(snap)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / DIGEST_FILE).write_text(markdown)
    message = violation(tmp_path, snap, None, items, path="out/digest.md")
    assert "RESULT path is 'out/digest.md'" in message and "'digest.md'" in message


def test_a_missing_digest_file_is_rejected(tmp_path):
    message = violation(tmp_path, one_repo(2), None, 2)
    assert "does not exist" in message and str(tmp_path / DIGEST_FILE) in message


def test_an_item_count_that_differs_from_the_bullets_is_rejected(tmp_path):
    snap, answer = busy_day()
    markdown, items = render(snap, answer)
    message = violation(tmp_path, snap, markdown, items + 1)
    assert f"RESULT says items={items + 1} but the digest has {items} bullets" in message


def test_an_invented_link_is_rejected(tmp_path):
    snap, answer = busy_day()
    markdown, items = render(snap, answer)
    forged = markdown.replace("https://blog.example.org/r", "https://evil.example.com/r")
    assert forged != markdown
    message = violation(tmp_path, snap, forged, items)
    assert "links not in the snapshot" in message and "https://evil.example.com/r" in message


def test_a_link_hidden_in_a_note_line_is_still_checked(tmp_path):
    snap = one_repo(1)
    markdown, items = render(snap)
    message = violation(tmp_path, snap, markdown + "\n> see https://evil.example.com/x\n", items)
    assert "https://evil.example.com/x" in message


def test_a_commit_sha_not_in_the_snapshot_is_rejected(tmp_path):
    snap = one_repo(3)
    markdown, items = render(snap)
    real = snap.commits[1].short_sha
    forged = markdown.replace(f"- {real} ", "- 1234567 ")
    message = violation(tmp_path, snap, forged, items)
    assert "commit '1234567' is not a commit of this period" in message


def test_a_too_short_sha_is_not_accepted_as_a_commit(tmp_path):
    snap = one_repo(1)
    markdown, items = render(snap)
    real = snap.commits[0].short_sha
    message = violation(tmp_path, snap, markdown.replace(f"- {real} ", f"- {real[:4]} "), items)
    assert f"commit '{real[:4]}' is not a commit of this period" in message


def test_a_changed_commit_subject_is_rejected(tmp_path):
    snap = one_repo(3)
    markdown, items = render(snap)
    forged = markdown.replace("Change 1", "Change 1 (and a security fix)")
    message = violation(tmp_path, snap, forged, items)
    assert f"commit {snap.commits[1].short_sha} is listed as 'Change 1 (and a security fix)'" in message
    assert "fetched as 'Change 1'" in message


def test_a_commit_listed_twice_is_rejected(tmp_path):
    snap = one_repo(3)
    markdown, items = render(snap)
    line = f"- {snap.commits[0].short_sha} Change 0\n"
    message = violation(tmp_path, snap, markdown.replace(line, line + line), items + 1)
    assert f"commits listed more than once: ['{snap.commits[0].short_sha}']" in message


def test_a_missing_commit_is_rejected(tmp_path):
    snap = one_repo(3)
    markdown, items = render(snap)
    line = f"- {snap.commits[2].short_sha} Change 2\n"
    message = violation(tmp_path, snap, markdown.replace(line, ""), items - 1)
    assert "2 commits listed, expected 3 of 3" in message


def test_a_missing_more_line_past_the_cap_is_rejected(tmp_path):
    snap = one_repo(5)
    markdown, items = render(snap, cap=3)
    assert "+2 more commits\n" in markdown
    message = violation(tmp_path, snap, markdown.replace("+2 more commits\n", ""), items, cap=3)
    assert "expected one line '+2 more commits' after the cap of 3" in message


@pytest.mark.parametrize("wrong", ["+3 more commits", "+1 more commit", "+5 more commits"])
def test_a_more_line_with_the_wrong_count_is_rejected(tmp_path, wrong):
    snap = one_repo(5)
    markdown, items = render(snap, cap=3)
    message = violation(tmp_path, snap, markdown.replace("+2 more commits", wrong), items, cap=3)
    assert "expected one line '+2 more commits' after the cap of 3" in message


def test_a_more_line_when_every_commit_is_listed_is_rejected(tmp_path):
    snap = one_repo(3)
    markdown, items = render(snap)
    forged = markdown.replace("## Tech highlights", "+0 more commits\n\n## Tech highlights")
    message = violation(tmp_path, snap, forged, items)
    assert "a '+N more' line although every commit is listed" in message


def test_listing_more_commits_than_the_cap_is_rejected(tmp_path):
    snap = one_repo(5)
    markdown, items = render(snap, cap=5)
    message = violation(tmp_path, snap, markdown, items, cap=3)
    assert "5 commits listed, expected 3 of 5" in message


@pytest.mark.parametrize("heading", ["## Commits", "## Tech highlights", "## Action items (if any)"])
def test_a_missing_section_is_rejected(tmp_path, heading):
    snap, answer = busy_day()
    markdown, items = render(snap, answer)
    # Drop the heading and everything up to the next section.
    forged = re.sub(rf"{re.escape(heading)}\n.*?(?=^## |\Z)", "", markdown, flags=re.S | re.M)
    assert heading not in forged
    with pytest.raises(ContractViolation, match=re.escape(f"missing section '{heading}'")):
        check(tmp_path, snap, forged, items)


def test_an_empty_digest_fails_unless_the_job_allows_empty_days(tmp_path):
    snap = snapshot()
    markdown, items = render(snap)
    assert items == 0
    message = violation(tmp_path, snap, markdown, items)
    assert "the digest is empty (items: 0)" in message
    assert check(tmp_path, snap, markdown, items, allow_empty=True) == markdown


def test_every_problem_is_listed_in_one_error(tmp_path):
    snap = one_repo(3)
    markdown, items = render(snap)
    forged = markdown.replace("Change 1", "Changed").replace("None today.", "- X (https://evil.example.com)")
    message = violation(tmp_path, snap, forged, items)
    assert message.startswith("digest.md breaks the contract: ")
    assert f"RESULT says items={items}" in message
    assert "https://evil.example.com" in message
    assert "is listed as 'Changed'" in message


# --- Rendered digests the checker once rejected ------------------------------------------------


def test_a_commit_subject_with_a_link_passes(tmp_path):
    snap = snapshot(commits=[commit("Pin httpx, see https://github.com/encode/httpx/issues/1", 0)])
    markdown, items = render(snap)
    check(tmp_path, snap, markdown, items)


def test_a_note_about_an_unreachable_url_feed_passes(tmp_path):
    note = SourceNote(source="rss:https://feeds.example.org/eng.xml", problem="HTTP 404 Not Found: skipped")
    snap = snapshot(commits=[commit("One", 0)], notes=[note])
    markdown, items = render(snap)
    check(tmp_path, snap, markdown, items)


def test_a_snapshot_url_with_parentheses_passes(tmp_path):
    wiki = FeedEntry(
        feed="Wiki", title="Backoff", url="https://en.wikipedia.org/wiki/Backoff_(computing)", date=T0
    )
    snap = snapshot(entries=[wiki])
    markdown, items = render(snap, {"highlights": [{"ref": wiki.url, "takeaway": "Background reading"}]})
    check(tmp_path, snap, markdown, items)


def test_the_same_commit_from_two_sources_passes(tmp_path):
    local = commit("Ship it", 0)
    remote = Commit(**{**local.model_dump(), "repo": "main", "url": None})
    snap = snapshot(commits=[local, remote])
    markdown, items = render(snap)
    check(tmp_path, snap, markdown, items)


# --- Links only to the snapshot's items ----------------------------------------------------


def test_a_link_to_a_url_quoted_in_a_source_title_is_rejected(tmp_path):
    # The URL is in the snapshot (a hostile issue title carries it), but only as text.
    lure = issue(9, "Security fix, read https://evil.example/login first")
    snap = snapshot(issues=[lure], commits=[commit("One", 0)])
    markdown, items = render(snap)
    forged = markdown.replace(
        "Nothing stood out.", f"- [Signed advisory](https://evil.example/login) — patch now (<{lure.url}>)"
    )
    message = violation(tmp_path, snap, forged, items + 1)
    assert "links or images to what is not an item of the snapshot: ['https://evil.example/login']" in message
    assert "invented" not in message


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "![](data:image/png;base64,iVBORw0KGgo=)",
        "<mailto:oncall@example.org>",
        "[x][1]\n\n[1]: data:text/html,hi",
    ],
)
def test_links_and_images_to_other_schemes_are_rejected(tmp_path, link):
    snap, answer = busy_day()
    markdown, items = render(snap, answer)
    forged = markdown.replace("## Action items (if any)", f"{link}\n\n## Action items (if any)")
    message = violation(tmp_path, snap, forged, items)
    assert "links or images to what is not an item of the snapshot" in message


def test_escaped_link_syntax_in_source_text_passes(tmp_path):
    hostile = pull(9, "[Advisory](javascript:alert(1)) ![](https://t.example/p.gif) <https://evil.example>")
    snap = snapshot(pull_requests=[hostile], commits=[commit("[Deploy](data:x) <mailto:a@b.example>", 0)])
    markdown, items = render(snap, {"highlights": [{"ref": hostile.url, "takeaway": "[Read](javascript:1)"}]})
    assert check(tmp_path, snap, markdown, items) == markdown

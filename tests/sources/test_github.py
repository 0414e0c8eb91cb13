from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest

from agentjobs.sources import github
from agentjobs.sources.errors import (
    GitHubAccessDenied,
    GitHubError,
    GitHubRateLimited,
    GitHubUnavailable,
    PermanentSourceError,
    SourceError,
)
from agentjobs.sources.github import fetch_github
from agentjobs.sources.snapshot import SourceSnapshot
from tests.fakes.github import GitHubReplay, commit, issue, pull, release

START = datetime(2025, 3, 10, tzinfo=UTC)
END = START + timedelta(days=1)
BEFORE = START - timedelta(seconds=1)
NOON = START + timedelta(hours=12)
AFTER = END + timedelta(hours=1)
TOKEN = "ghp_s3cretTOKENvalue0123456789abcdefABCD"
REPO = "apache/widgets"


def run(api: GitHubReplay, repos: list[str] | None = None, **kwargs) -> SourceSnapshot:
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("sleep", lambda seconds: pytest.fail(f"unexpected sleep({seconds})"))
    return fetch_github(repos or [REPO], START, END, api_url=api.base_url, **kwargs)


def full_repo(api: GitHubReplay, name: str = REPO) -> None:
    api.add_repo(
        name,
        commits=[
            commit(name, "a0", "before the interval", BEFORE),
            commit(name, "a1", "Fix the scheduler\n\nLong body that is not the subject.", START),
            commit(name, "a2", "Add a widget", NOON, login=None),
            commit(name, "a3", "at the end: belongs to the next day", END),
            commit(name, "a4", "after", AFTER),
        ],
        pulls=[
            pull(name, 1, "opened and merged today", NOON, merged=NOON + timedelta(hours=2)),
            pull(name, 2, "opened last week, merged today", START - timedelta(days=7), merged=NOON),
            pull(name, 3, "opened today, still open", START + timedelta(hours=1)),
            pull(name, 4, "old, only commented today", START - timedelta(days=3), updated=NOON),
            pull(name, 5, "opened tomorrow", AFTER),
        ],
        issues=[
            issue(name, 10, "opened today", NOON),
            issue(name, 11, "old, closed today", START - timedelta(days=9), closed=NOON),
            issue(name, 12, "old, commented today", START - timedelta(days=2), updated=NOON),
            issue(name, 13, "opened at the very end", END),
        ],
        releases=[
            release(name, "v1.1", END),
            release(name, "v1.0", NOON),
            release(name, "v1.2-draft", None, created=NOON, draft=True),
            release(name, "v1.0.1", NOON, draft=True),  # published, then turned back into a draft
            release(name, "v0.9", BEFORE),
        ],
    )


def test_each_kind_is_kept_only_inside_the_interval(github_api: GitHubReplay) -> None:
    full_repo(github_api)
    snap = run(github_api)

    assert snap.source == "github"
    assert [c.sha[:2] for c in snap.commits] == ["a1", "a2"]  # oldest first; END itself excluded
    first, second = snap.commits
    assert first.subject == "Fix the scheduler"
    assert first.url == f"https://github.com/{REPO}/commit/{first.sha}"
    assert first.author == "octocat"
    assert second.author == "Anonymous"  # no GitHub account: the git author name

    assert sorted((p.number, p.action) for p in snap.pull_requests) == [
        (1, "merged"),
        (1, "opened"),
        (2, "merged"),
        (3, "opened"),
    ]
    assert all(p.url.endswith(f"/pull/{p.number}") for p in snap.pull_requests)
    # The issues listing also holds the PRs; they must not show up a second time as issues.
    assert sorted((i.number, i.action) for i in snap.issues) == [(10, "opened"), (11, "closed")]
    assert [(r.tag, r.url) for r in snap.releases] == [
        ("v1.0", f"https://github.com/{REPO}/releases/tag/v1.0")
    ]


def test_listings_are_followed_across_pages(github_api: GitHubReplay) -> None:
    github_api.page_size = 2
    github_api.add_repo(
        REPO,
        commits=[commit(REPO, f"c{n}", f"change {n}", START + timedelta(hours=n)) for n in range(5)],
        issues=[issue(REPO, n, f"issue {n}", START + timedelta(hours=n)) for n in range(5)],
        releases=[release(REPO, f"v1.{n}", START + timedelta(hours=n)) for n in range(3)],
    )
    snap = run(github_api)

    assert len(snap.commits) == 5
    assert len(snap.issues) == 5
    assert len(snap.releases) == 3
    pages = [r.query.get("page", "1") for r in github_api.requests_to("commits")]
    assert pages == ["1", "2", "3"]
    # The next-page URL came from the Link header, with the original query intact.
    assert all(r.query["since"] == "2025-03-10T00:00:00Z" for r in github_api.requests_to("commits"))


def test_pull_requests_stop_at_the_first_page_older_than_the_interval(github_api: GitHubReplay) -> None:
    github_api.page_size = 2
    old = [pull(REPO, n, "old", START - timedelta(days=30 + n)) for n in range(6)]
    github_api.add_repo(REPO, pulls=[pull(REPO, 100, "new", NOON), pull(REPO, 101, "new", NOON), *old])
    snap = run(github_api)

    assert [p.number for p in snap.pull_requests] == [100, 101]
    assert len(github_api.requests_to("pulls")) == 2  # not all four pages


def test_token_is_sent_as_bearer_with_the_api_headers(github_api: GitHubReplay) -> None:
    full_repo(github_api)
    run(github_api)
    assert github_api.requests
    for request in github_api.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"


def test_without_a_token_no_authorization_header_is_sent(github_api: GitHubReplay) -> None:
    full_repo(github_api)
    run(github_api, token=None)
    assert all("authorization" not in r.headers for r in github_api.requests)


def _chain(exc: BaseException | None) -> list[BaseException]:
    found = []
    while exc is not None:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


@pytest.mark.parametrize(
    "script",
    [
        lambda api: api.fail_always(503),
        lambda api: api.rate_limit_next(reset_in_s=3600),
        lambda api: api.fail_next(1, status=401, message="Bad credentials"),
    ],
    ids=["unavailable", "rate-limited", "bad-credentials"],
)
def test_the_token_appears_in_no_error_and_no_log_line(github_api: GitHubReplay, script) -> None:
    full_repo(github_api)
    script(github_api)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("agentjobs.sources.github")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with pytest.raises(SourceError) as caught:
            run(github_api, sleep=lambda seconds: None)
    finally:
        logger.removeHandler(handler)
    for exc in _chain(caught.value):
        assert TOKEN not in str(exc) and TOKEN not in repr(exc.args)
    assert all(TOKEN not in r.getMessage() for r in records)


def test_bad_credentials_say_so_and_are_permanent(github_api: GitHubReplay) -> None:
    full_repo(github_api)
    github_api.fail_next(1, status=401, message="Bad credentials")
    with pytest.raises(GitHubAccessDenied, match="401 Bad credentials") as caught:
        run(github_api)
    assert isinstance(caught.value, PermanentSourceError)  # the retry policy fails it at once
    assert "wrong, expired or revoked" in str(caught.value)
    assert len(github_api.requests) == 1


def test_a_forbidden_repository_is_refused_with_the_fix(github_api: GitHubReplay) -> None:
    """A fine-grained token not granted the repository: 403 with quota left, not a rate limit."""
    full_repo(github_api)
    github_api.fail_next(1, status=403, message="Resource not accessible by personal access token")
    with pytest.raises(GitHubAccessDenied, match="403 Resource not accessible") as caught:
        run(github_api)
    assert "grant it read access" in str(caught.value)
    assert len(github_api.requests) == 1


def test_a_secondary_rate_limit_named_only_in_its_message_is_waited_out(github_api: GitHubReplay) -> None:
    """GitHub may send the secondary limit as a bare 403 (quota left, no retry-after): GitHub's
    advice is to wait a minute, and it is not a refused token."""
    full_repo(github_api)
    github_api.fail_next(
        1,
        status=403,
        message="You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    )
    sleeps: list[float] = []
    snap = run(github_api, sleep=sleeps.append)
    assert sleeps == [60.0]
    assert len(snap.commits) == 2


def test_a_missing_repository_is_noted_and_the_others_still_read(github_api: GitHubReplay) -> None:
    full_repo(github_api, "apache/widgets")
    snap = run(github_api, ["apache/gone", "apache/widgets"])

    assert [(n.source, n.problem) for n in snap.notes] == [
        ("github:apache/gone", "repository not found or not accessible with this token: skipped")
    ]
    assert {c.repo for c in snap.commits} == {"apache/widgets"}
    assert len(snap.commits) == 2


def test_server_errors_are_retried_with_backoff_then_succeed(github_api: GitHubReplay) -> None:
    full_repo(github_api)
    github_api.fail_next(2, status=502)
    sleeps: list[float] = []
    snap = run(github_api, sleep=sleeps.append)

    assert sleeps == [1.0, 2.0]
    assert len(snap.commits) == 2


def test_server_errors_that_never_end_raise_unavailable(github_api: GitHubReplay) -> None:
    full_repo(github_api)
    github_api.fail_always(503)
    sleeps: list[float] = []
    with pytest.raises(GitHubUnavailable, match="after 4 tries"):
        run(github_api, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(github_api.requests) == 4


def test_a_refused_connection_is_retried_then_raises_unavailable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(GitHubUnavailable, match="ConnectError"):
        fetch_github([REPO], START, END, token=TOKEN, api_url=f"http://127.0.0.1:{port}", sleep=sleeps.append)
    assert len(sleeps) == 3


def test_a_short_rate_limit_is_waited_out(github_api: GitHubReplay) -> None:
    full_repo(github_api)
    github_api.rate_limit_next(reset_in_s=5)
    sleeps: list[float] = []
    snap = run(github_api, sleep=sleeps.append)

    assert len(sleeps) == 1 and 4 <= sleeps[0] <= 7
    assert len(snap.commits) == 2 and len(snap.releases) == 1  # complete, not partial


def test_a_secondary_rate_limit_waits_for_retry_after(github_api: GitHubReplay) -> None:
    full_repo(github_api)
    github_api.rate_limit_next(status=429, retry_after_s=7)
    sleeps: list[float] = []
    snap = run(github_api, sleep=sleeps.append)
    assert sleeps == [7.0]
    assert len(snap.commits) == 2


def test_a_long_rate_limit_raises_with_the_reset_time_and_the_fix(github_api: GitHubReplay) -> None:
    full_repo(github_api)
    github_api.rate_limit_next(reset_in_s=3600)
    with pytest.raises(GitHubRateLimited) as caught:
        run(github_api, token=None)  # the fake sleep in run() fails the test if it waits

    message = str(caught.value)
    assert caught.value.reset_at is not None
    assert caught.value.reset_at.isoformat(timespec="seconds") in message
    assert abs(caught.value.reset_at.timestamp() - (time.time() + 3600)) < 10
    assert "set a GitHub token" in message and "run again after the reset" in message


def test_more_pages_than_the_cap_raise_instead_of_truncating(
    github_api: GitHubReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(github, "MAX_PAGES", 2)
    github_api.page_size = 1
    github_api.add_repo(
        REPO, commits=[commit(REPO, f"c{n}", "x", START + timedelta(hours=n)) for n in range(3)]
    )
    with pytest.raises(GitHubError, match="more than 2 pages"):
        run(github_api)


def test_exactly_the_cap_is_still_complete(github_api: GitHubReplay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(github, "MAX_PAGES", 2)
    github_api.page_size = 1
    github_api.add_repo(
        REPO, commits=[commit(REPO, f"c{n}", "x", START + timedelta(hours=n)) for n in range(2)]
    )
    assert len(run(github_api).commits) == 2


def test_a_next_link_to_another_host_is_refused(github_api: GitHubReplay) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        github_api.link_base = f"http://127.0.0.1:{probe.getsockname()[1]}"
    github_api.page_size = 1
    github_api.add_repo(
        REPO, commits=[commit(REPO, f"c{n}", "x", START + timedelta(hours=n)) for n in range(2)]
    )
    with pytest.raises(GitHubError, match="leaves") as caught:
        run(github_api)
    assert type(caught.value) is GitHubError  # refused up front, not tried and failed
    assert len(github_api.requests) == 1


@pytest.mark.parametrize(
    "spec", ["widgets", "apache/widgets/extra", "https://github.com/apache/widgets", "a/.."]
)
def test_a_malformed_repository_is_refused_before_any_request(github_api: GitHubReplay, spec: str) -> None:
    full_repo(github_api)
    with pytest.raises(ValueError, match="expected 'owner/name'") as caught:
        run(github_api, [REPO, spec])
    assert repr(spec) in str(caught.value)
    assert github_api.requests == []


def test_repositories_are_merged_oldest_first(github_api: GitHubReplay) -> None:
    github_api.add_repo("o/late", commits=[commit("o/late", "b1", "late", NOON)])
    github_api.add_repo("o/early", commits=[commit("o/early", "e1", "early", START)])
    snap = run(github_api, ["o/late", "o/early"])
    assert [c.repo for c in snap.commits] == ["o/early", "o/late"]


def test_an_answer_of_an_unknown_shape_fails_loudly(github_api: GitHubReplay) -> None:
    odd = commit(REPO, "c1", "no html_url", NOON)
    del odd["html_url"]
    github_api.add_repo(REPO, commits=[odd])
    with pytest.raises(GitHubError, match="unexpected shape"):
        run(github_api)


def test_a_commit_with_neither_a_github_nor_a_git_author_is_kept_without_one(
    github_api: GitHubReplay,
) -> None:
    nobody = commit(REPO, "c2", "Imported from svn", NOON, login=None)
    nobody["commit"]["author"] = None
    github_api.add_repo(REPO, commits=[nobody, commit(REPO, "c3", "Known", NOON + timedelta(hours=1))])
    snap = run(github_api)
    assert [(c.subject, c.author) for c in snap.commits] == [("Imported from svn", ""), ("Known", "octocat")]


def test_an_author_of_another_type_is_a_source_error_not_a_crash(github_api: GitHubReplay) -> None:
    odd = commit(REPO, "c4", "author as a bare string", NOON)
    odd["author"] = "octocat"
    github_api.add_repo(REPO, commits=[odd])
    with pytest.raises(GitHubError, match="unexpected shape"):
        run(github_api)


def test_releases_stop_at_the_first_page_with_nothing_new(github_api: GitHubReplay) -> None:
    github_api.page_size = 1
    old = [release(REPO, f"v0.{n}", START - timedelta(days=10 + n)) for n in range(5)]
    github_api.add_repo(REPO, releases=[release(REPO, "v1.0", NOON), *old])
    snap = run(github_api)
    assert [r.tag for r in snap.releases] == ["v1.0"]
    assert len(github_api.requests_to("releases")) == 2  # not all six pages


def test_an_empty_repository_has_no_commits_but_its_other_activity_counts(github_api: GitHubReplay) -> None:
    github_api.add_repo(REPO, empty=True, issues=[issue(REPO, 1, "first!", NOON)])
    snap = run(github_api)
    assert snap.commits == [] and snap.notes == []
    assert [i.title for i in snap.issues] == ["first!"]


def test_a_title_with_a_lone_surrogate_is_kept_as_a_replacement_character(
    github_api: GitHubReplay, tmp_path
) -> None:
    # JSON may carry "\ud800", which no UTF-8 file can hold; the snapshot must still be written.
    github_api.add_repo(
        REPO,
        commits=[commit(REPO, "b1", "Fix \ud800 encoding", NOON)],
        pulls=[pull(REPO, 7, "Title \udfff with a lone surrogate", NOON)],
    )
    snap = run(github_api)
    written = SourceSnapshot.model_validate_json(snap.write(tmp_path).read_text(encoding="utf-8"))

    assert written.commits[0].subject == "Fix \ufffd encoding"
    assert written.pull_requests[0].title == "Title \ufffd with a lone surrogate"

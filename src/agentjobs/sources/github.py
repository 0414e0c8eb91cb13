"""Commits, pull requests, issues and releases of GitHub repositories in one data interval.

Plain REST calls with httpx. The result is complete or the call raises: rate limits are
waited out only when the wait is short, flaky answers are retried a few times, and a
listing longer than the page cap raises instead of being cut. A repository that is gone
or hidden from the token becomes a note. The token only ever travels in a request
header; no message, log line or exception chain built here holds it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from agentjobs.sources.errors import GitHubAccessDenied, GitHubError, GitHubRateLimited, GitHubUnavailable
from agentjobs.sources.snapshot import Commit, Issue, PullRequest, Release, SourceNote, SourceSnapshot

log = logging.getLogger(__name__)

MAX_PAGES = 50  # x 100 items a listing; beyond that the run raises rather than truncate
RETRIES = 3  # for 5xx and connection errors, after the first try
BACKOFF_S = 1.0  # doubled at each retry
RATE_LIMIT_WAITS = 3  # waits for one request before giving up
_TIMEOUT_S = 30
_Numbered = TypeVar("_Numbered", PullRequest, Issue)
_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")  # fullmatch: no "\n" after


def fetch_github(
    repos: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    token: str | None,
    api_url: str = "https://api.github.com",
    client: httpx.Client | None = None,
    max_rate_limit_wait_s: float = 60,
    sleep: Callable[[float], None] = time.sleep,
) -> SourceSnapshot:
    """Activity of `repos` ("owner/name") in [start, end), each kind sorted oldest first."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware datetimes")
    for repo in repos:  # all checked before the first request, so a typo costs no quota
        if not _REPO.fullmatch(repo) or repo.split("/")[1] in (".", ".."):
            raise ValueError(
                f"invalid GitHub repository {repo!r}: expected 'owner/name', e.g. 'apache/airflow'"
            )
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "agentjobs-digest",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    owned = client is None
    http = client or httpx.Client(timeout=_TIMEOUT_S, follow_redirects=True)
    api = _Api(http, api_url.rstrip("/"), headers, bool(token), max_rate_limit_wait_s, sleep)
    snapshot = SourceSnapshot(source="github", interval_start=start, interval_end=end)
    try:
        for repo in dict.fromkeys(repos):  # once each, in the order given
            part = SourceSnapshot(source="github", interval_start=start, interval_end=end)
            try:
                _fetch_repo(api, repo, start, end, part)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                # GitHub's answer is data from outside: a shape we do not know fails loudly.
                raise GitHubError(f"GitHub answered {repo} with an unexpected shape ({exc!r})") from None
            except _RepoMissing:
                # Nothing of a repository that vanished half-way is kept, so it is either
                # complete or named in a note.
                problem = "repository not found or not accessible with this token: skipped"
                snapshot.notes.append(SourceNote(source=f"github:{repo}", problem=problem))
                continue
            for kind in ("commits", "pull_requests", "issues", "releases"):
                getattr(snapshot, kind).extend(getattr(part, kind))
    finally:
        if owned:
            http.close()
    for kind in ("commits", "pull_requests", "issues", "releases"):
        getattr(snapshot, kind).sort(key=lambda item: (item.date, item.repo))
    return snapshot


def _fetch_repo(api: _Api, repo: str, start: datetime, end: datetime, out: SourceSnapshot) -> None:
    def inside(stamp: str | None) -> datetime | None:
        date = _date(stamp)
        return date if date is not None and start <= date < end else None

    # until is inclusive and whole seconds; the exact bound is applied below.
    window = {"since": _iso(start), "until": _iso(end + timedelta(seconds=1)), "per_page": 100}
    for page in api.pages(repo, "commits", window, empty_ok=True):
        for c in page:
            date = inside(c["commit"]["committer"]["date"])
            if date:
                subject = (c["commit"]["message"] or "").split("\n", 1)[0].strip()
                # GitHub's user, else the git author's name; a commit may have neither.
                git_author = c["commit"].get("author") or {}
                author = (c.get("author") or {}).get("login") or git_author.get("name") or ""
                out.commits.append(
                    Commit(
                        repo=repo, sha=c["sha"], subject=subject, author=author, date=date, url=c["html_url"]
                    )
                )

    # Newest update first: once a page reaches PRs last touched before the interval, no
    # later page can hold one opened or merged inside it.
    pulls = {"state": "all", "sort": "updated", "direction": "desc", "per_page": 100}
    for page in api.pages(repo, "pulls", pulls):
        for p in page:
            for action, stamp in (("opened", p["created_at"]), ("merged", p.get("merged_at"))):
                if date := inside(stamp):
                    out.pull_requests.append(_item(PullRequest, repo, p, action, date))
        if not page or datetime.fromisoformat(page[-1]["updated_at"]) < start:
            break

    for page in api.pages(repo, "issues", {"state": "all", "since": _iso(start), "per_page": 100}):
        for i in page:
            if "pull_request" in i:  # the issues listing includes PRs; they are counted above
                continue
            for action, stamp in (("opened", i["created_at"]), ("closed", i.get("closed_at"))):
                if date := inside(stamp):
                    out.issues.append(_item(Issue, repo, i, action, date))

    # Listed newest first; a page with nothing published since `start` ends the walk, so
    # a repository with thousands of old releases costs one request, not fifty.
    for page in api.pages(repo, "releases", {"per_page": 100}):
        for r in page:
            date = inside(r.get("published_at"))
            if date and not r.get("draft"):
                name = r.get("name") or r["tag_name"]
                out.releases.append(
                    Release(repo=repo, tag=r["tag_name"], name=name, url=r["html_url"], date=date)
                )
        if all((_date(r.get("published_at")) or start) < start for r in page):
            break


def _item(model: type[_Numbered], repo: str, raw: dict[str, Any], action: str, date: datetime) -> _Numbered:
    author = (raw.get("user") or {}).get("login", "")
    return model(
        repo=repo,
        number=raw["number"],
        title=raw["title"],
        url=raw["html_url"],
        action=action,
        author=author,
        date=date,
    )


def _date(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp) if stamp else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _RepoMissing(Exception):
    """404/451: the repository does not exist, or the token may not see it."""


class _Api:
    def __init__(
        self,
        http: httpx.Client,
        base: str,
        headers: dict[str, str],
        has_token: bool,
        max_wait_s: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.http, self.base, self.headers = http, base, headers
        self.has_token, self.max_wait_s, self.sleep = has_token, max_wait_s, sleep
        self.origin = urlsplit(base)[:2]

    def pages(
        self, repo: str, kind: str, params: dict[str, Any], *, empty_ok: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page of a listing, following the Link header until it ends or the caller stops."""
        url: str = f"{self.base}/repos/{repo}/{kind}"
        query: dict[str, Any] | None = params
        for _ in range(MAX_PAGES):
            response = self._get(url, query, f"{repo} {kind}")
            if response.status_code in (404, 451):
                raise _RepoMissing(repo)
            if response.status_code == 409 and empty_ok:  # "Git Repository is empty."
                return
            if response.status_code in (401, 403):  # rate limits were waited out or raised in _get
                raise GitHubAccessDenied(self._denied(response, f"{repo} {kind}"))
            if response.status_code != 200:
                raise GitHubError(f"GitHub answered {_status(response)} listing {repo} {kind}")
            try:
                page = response.json()
            except ValueError:
                page = None
            if not isinstance(page, list):
                raise GitHubError(f"GitHub answered {repo} {kind} with something other than a JSON list")
            yield page
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            if urlsplit(following)[:2] != self.origin:  # the token must not follow a link elsewhere
                raise GitHubError(f"GitHub's next-page link for {repo} {kind} leaves {self.base}")
            url, query = following, None  # the link carries the whole query
        raise GitHubError(
            f"{repo} {kind}: more than {MAX_PAGES} pages in one interval; refusing to return a "
            "truncated list (use a shorter data interval or fewer repositories)"
        )

    def _get(self, url: str, query: dict[str, Any] | None, what: str) -> httpx.Response:
        failures = waits = 0
        while True:
            outcome = self._try(url, query)
            if isinstance(outcome, str):
                failures += 1
                if failures > RETRIES:
                    raise GitHubUnavailable(
                        f"GitHub did not answer {what} after {RETRIES + 1} tries (last: {outcome}); "
                        "try the run again later"
                    )
                delay = BACKOFF_S * 2 ** (failures - 1)
                log.warning("GitHub %s failed (%s); retrying in %gs", what, outcome, delay)
                self.sleep(delay)
                continue
            limited = _rate_limit_wait(outcome)
            if limited is None:
                return outcome
            wait, reset_at = limited
            waits += 1
            if wait > self.max_wait_s or waits > RATE_LIMIT_WAITS:
                why = (
                    f"in {wait:.0f}s, more than the {self.max_wait_s:g}s this run may wait"
                    if wait > self.max_wait_s
                    else f"still limited after {RATE_LIMIT_WAITS} waits"
                )
                raise GitHubRateLimited(
                    f"GitHub API rate limit exhausted while reading {what}; it resets at "
                    f"{reset_at.isoformat(timespec='seconds')} ({why}): {self._fix()}",
                    reset_at,
                )
            log.warning("GitHub rate limit reached on %s; waiting %.0fs for it to reset", what, wait)
            self.sleep(wait)

    def _try(self, url: str, query: dict[str, Any] | None) -> httpx.Response | str:
        """The response, or what went wrong when it is worth another try."""
        try:
            response = self.http.get(url, params=query, headers=self.headers)
        except httpx.TransportError as exc:
            # Only the text is kept: httpx errors hold the request, and the request the token.
            return f"{type(exc).__name__}: {exc}"
        return f"HTTP {response.status_code}" if response.status_code >= 500 else response

    def _denied(self, response: httpx.Response, what: str) -> str:
        if response.status_code == 401 and self.has_token:
            fix = "the token is wrong, expired or revoked; put a valid one in the GitHub connection"
        elif response.status_code == 401:
            fix = "this GitHub needs a token; set one in the GitHub connection"
        else:
            fix = (
                "the token may not read this repository; grant it read access (a fine-grained token: "
                "Contents, Issues, Pull requests and Metadata) or remove the repository from the spec"
            )
        return f"GitHub refused {what} ({_status(response)}): {fix}; a retry would be refused too"

    def _fix(self) -> str:
        if self.has_token:
            return "run again after the reset, or use a token with more quota"
        return "set a GitHub token (5,000 requests an hour instead of 60) or run again after the reset"


def _rate_limit_wait(response: httpx.Response) -> tuple[float, datetime] | None:
    """Seconds to wait and when the limit lifts, or None when the answer is not a rate limit."""
    headers = response.headers
    # A secondary limit may come without either header; its message then says what it is.
    limited = response.status_code in (403, 429) and (
        headers.get("x-ratelimit-remaining") == "0"
        or "retry-after" in headers
        or "rate limit" in _message(response).lower()
    )
    if not limited:
        return None
    now = time.time()
    reset = headers.get("x-ratelimit-reset", "")
    if (after := headers.get("retry-after", "")).isdigit():
        wait = float(after)  # the secondary (abuse) limit says exactly how long
    elif headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        wait = max(0.0, int(reset) - now) + 1  # +1: the reset is whole seconds and clocks drift
    else:
        # GitHub's advice when it names no time; a secondary limit with quota left must not
        # wait for the primary window's reset, an hour off.
        wait = 60.0
    return wait, datetime.fromtimestamp(now + wait, UTC)


def _message(response: httpx.Response) -> str:
    """GitHub's own words on an error answer (its JSON `message`), short; "" when it has none."""
    try:
        return str(response.json().get("message", ""))[:200]
    except (ValueError, AttributeError):
        return ""


def _status(response: httpx.Response) -> str:
    return f"{response.status_code} {_message(response)}".strip()

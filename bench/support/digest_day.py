"""One day of sample activity: what both digest designs read, and the truth coverage is judged by.

A busy but ordinary day of one repository (commits, pull requests, issues, a release) and
the bundled demo feed, re-dated to the day. The same items are served to the pipeline as
the GitHub REST API (tests/fakes/github.py) and an RSS feed, and to the agentic-fetch
baseline as HTML pages (bench/support/pages.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tests.fakes import github

from agentjobs.sources.demo_feed import DEMO_ITEMS, demo_item_urls

DAY = date(2026, 11, 24)
TIMEZONE = "Europe/Berlin"
REPO = "apache/airflow"

COMMIT_SUBJECTS = (
    "Fix scheduler race when a DAG run is cleared while queued",
    "Bump ruff to 0.17.3",
    "Add deadline alert docs for DAGRUN_QUEUED_AT references",
    "Task SDK: pass run_after to the execution API",
    "Remove unused imports in the triggerer",
    "UI: show mapped task indexes in the grid tooltip",
    "Fix flaky test_backfill_max_active_runs",
    "Providers: release common-sql 2.4.1",
    "Speed up DAG parsing by caching the import graph",
    "Handle SIGTERM in the DAG processor gracefully",
    "Docs: clarify pool slots for deferrable operators",
    "Add asset alias support to the REST API",
    "Fix typo in the Celery executor guide",
    "Use structlog processors for task log redaction",
    "Upgrade FastAPI to 0.125",
    "Refactor XCom backend selection",
    "Fix timezone handling in cron timetables around DST",
    "Add retry policy hooks to the task SDK",
    "CI: split the provider tests across four runners",
    "Expose dag_run.note in the public API",
    "Fix the backfill form's date picker on Firefox",
    "Mask connection extras in the audit log",
    "Bump the minimum SQLAlchemy to 2.0.40",
    "Add an example DAG for asset-triggered runs",
)
PULLS = (  # (title, merged the same day)
    ("Scheduler: avoid double-queueing cleared runs", True),
    ("Add task state store documentation", True),
    ("Triggerer: cap the number of open sockets", False),
    ("Remove deprecated SubDag imports", True),
    ("UI: dark mode for the calendar view", False),
    ("Providers: drop Python 3.10 support", False),
    ("Fix DAG processor memory growth with many files", True),
    ("REST API: paginate the asset events listing", True),
)
ISSUES = (  # (title, closed the same day)
    ("Backfill ignores max_active_runs after a restart", False),
    ("Grid view freezes with 2,000 mapped tasks", False),
    ("Deadline alert fires for failed runs", True),
    ("Docs: wrong default for [core] parallelism", True),
    ("Celery worker does not pick up pool changes", False),
)
RELEASE_TAG = "3.3.3"


@dataclass(frozen=True)
class DayCommit:
    sha: str
    subject: str
    author: str
    when: datetime


@dataclass(frozen=True)
class Article:
    title: str
    url: str
    summary_html: str
    when: datetime


def _at(hour: float) -> datetime:
    """A moment of DAY in UTC, between 00:00 and 22:00 (the day is Berlin's: 23:00 UTC before to 23:00)."""
    return datetime.combine(DAY, datetime.min.time(), UTC) + timedelta(hours=hour)


def commits() -> list[DayCommit]:
    authors = ("ashb", "potiuk", "uranusjr", "kaxil", "jedcunningham", "pierrejeambrun")
    found = []
    for n, subject in enumerate(COMMIT_SUBJECTS):
        sha = hashlib.sha1(f"{REPO}:{DAY}:{n}".encode()).hexdigest()
        found.append(DayCommit(sha, subject, authors[n % len(authors)], _at(0.5 + n * 0.9)))
    return found


def articles() -> list[Article]:
    return [
        Article(title, url, description, _at(hour))
        for (hour, title, _, description), url in zip(DEMO_ITEMS, demo_item_urls(), strict=True)
    ]


def add_to_github(replay: github.GitHubReplay) -> None:
    """The day's repository activity, as the GitHub REST API lists it."""
    pulls = []
    for n, (title, merged) in enumerate(PULLS):
        opened = _at(1 + n * 2.5)
        pulls.append(
            github.pull(
                REPO, 44100 + n, title, opened, merged=opened + timedelta(hours=1) if merged else None
            )
        )
    issues = []
    for n, (title, closed) in enumerate(ISSUES):
        opened = _at(2 + n * 3)
        issues.append(
            github.issue(
                REPO, 44200 + n, title, opened, closed=opened + timedelta(hours=2) if closed else None
            )
        )
    replay.add_repo(
        REPO,
        commits=[github.commit(REPO, c.sha, c.subject, c.when, login=c.author) for c in commits()],
        pulls=pulls,
        issues=issues,
        releases=[github.release(REPO, RELEASE_TAG, _at(15))],
    )


def truth_items() -> dict[str, str]:
    """Every item of the day, keyed by what a digest shows of it: a commit by its short SHA,
    anything else by its URL. The value names its kind."""
    items = {c.sha[:7]: "commit" for c in commits()}
    for n, (_, merged) in enumerate(PULLS):
        items[f"{github.GITHUB}/{REPO}/pull/{44100 + n}"] = "pull request" + (" (merged)" if merged else "")
    for n, _ in enumerate(ISSUES):
        items[f"{github.GITHUB}/{REPO}/issues/{44200 + n}"] = "issue"
    items[f"{github.GITHUB}/{REPO}/releases/tag/{RELEASE_TAG}"] = "release"
    items.update({a.url: "article" for a in articles()})
    return items


def covered(digest: str) -> list[str]:
    """The items of the day the digest shows."""
    return [key for key in truth_items() if key in digest]

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentjobs.sources.local_git import fetch_local_git

START = datetime(2025, 3, 10, tzinfo=UTC)
END = START + timedelta(days=1)


def git(repo: Path, *args: str, when: datetime | None = None, authored: datetime | None = None) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,  # the developer's own git config must not leak in
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Ada Lovelace",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Lovelace",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
    }
    if when is not None:
        env["GIT_COMMITTER_DATE"] = when.isoformat()
        env["GIT_AUTHOR_DATE"] = (authored or when).isoformat()
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    return path


def commit(repo: Path, message: str, when: datetime, authored: datetime | None = None) -> str:
    git(repo, "commit", "-q", "--allow-empty", "-m", message, when=when, authored=authored)
    return git(repo, "rev-parse", "HEAD")


def test_only_commits_dated_inside_the_interval_oldest_first(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "widgets")
    commit(repo, "the evening before", START - timedelta(seconds=1))
    at_start = commit(repo, "exactly at the start", START)
    # Authored long ago (a rebase or cherry-pick) but committed inside: the commit date counts.
    rebased = commit(repo, "rebased today", START + timedelta(hours=3), authored=START - timedelta(days=40))
    # 01:30 at UTC+2 is 23:30 UTC, still the same day.
    offset = commit(repo, "late, in another zone", datetime.fromisoformat("2025-03-11T01:30:00+02:00"))
    commit(repo, "exactly at the end: the next day's", END)
    commit(repo, "the day after", END + timedelta(hours=5))

    snap = fetch_local_git([repo], START, END)

    assert snap.source == "git"
    assert [c.sha for c in snap.commits] == [at_start, rebased, offset]
    assert snap.notes == []
    first = snap.commits[0]
    assert (first.repo, first.subject, first.author, first.url) == (
        "widgets",
        "exactly at the start",
        "Ada Lovelace",
        None,
    )
    assert first.date == START and len(first.sha) == 40


def test_subject_is_the_first_line_and_survives_odd_characters(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "odd")
    subject = 'Fix | pipes, "quotes", tabs\tand ünïcödé — ok'
    commit(repo, f"{subject}\n\nA body line.\nAnother one.", START + timedelta(hours=1))
    snap = fetch_local_git([repo], START, END)
    assert [c.subject for c in snap.commits] == [subject]


def test_a_subject_holding_control_characters_is_read_not_dropped(tmp_path: Path) -> None:
    """Any byte but NUL may be in a commit message: a subject with the unit/record separators
    (or a newline-free escape sequence) is still one commit, its neighbours unharmed."""
    repo = new_repo(tmp_path / "hostile")
    subject = "Fix\x1fparser\x1e done \x1b[31mred\x07"
    hostile = commit(repo, subject, START + timedelta(hours=1))
    after = commit(repo, "the next one", START + timedelta(hours=2))
    snap = fetch_local_git([repo], START, END)
    assert [(c.sha, c.subject, c.author) for c in snap.commits] == [
        (hostile, subject, "Ada Lovelace"),
        (after, "the next one", "Ada Lovelace"),
    ]


def test_first_parent_leaves_out_merged_branch_commits_unless_asked(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "merging")
    commit(repo, "base", START + timedelta(hours=1))
    git(repo, "checkout", "-q", "-b", "feature")
    feature = commit(repo, "work on the branch", START + timedelta(hours=2))
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge feature", "feature", when=START + timedelta(hours=3))

    main_line = fetch_local_git([repo], START, END)
    everything = fetch_local_git([repo], START, END, first_parent=False)

    assert [c.subject for c in main_line.commits] == ["base", "Merge feature"]
    assert feature in {c.sha for c in everything.commits}


def test_paths_that_are_not_repositories_are_noted_and_the_rest_read(tmp_path: Path) -> None:
    good = new_repo(tmp_path / "good")
    commit(good, "inside", START + timedelta(hours=1))
    plain = tmp_path / "plain"
    plain.mkdir()
    # A plain folder inside a repository must not be read as that repository.
    nested = good / "docs"
    nested.mkdir()
    empty = new_repo(tmp_path / "empty")

    snap = fetch_local_git([plain, tmp_path / "missing", nested, good, empty], START, END)

    assert [c.subject for c in snap.commits] == ["inside"]
    assert [(n.source, n.problem) for n in snap.notes] == [
        (f"git:{plain}", "not a git repository: skipped"),
        (f"git:{tmp_path / 'missing'}", "path does not exist: skipped"),
        (f"git:{nested}", "not a git repository: skipped"),
        (f"git:{empty}", "no commit at HEAD (empty repository or unknown ref): skipped"),
    ]


def test_a_repository_listed_twice_gives_each_commit_once(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "twice")
    commit(repo, "one", START + timedelta(hours=1))
    commit(repo, "two", START + timedelta(hours=2))
    snap = fetch_local_git([repo, repo], START, END)
    assert [c.subject for c in snap.commits] == ["one", "two"]


def test_commits_of_several_repositories_are_merged_oldest_first(tmp_path: Path) -> None:
    late = new_repo(tmp_path / "late")
    early = new_repo(tmp_path / "early")
    commit(late, "late", START + timedelta(hours=9))
    commit(early, "early", START + timedelta(hours=2))
    snap = fetch_local_git([late, early], START, END)
    assert [(c.repo, c.subject) for c in snap.commits] == [("early", "early"), ("late", "late")]


def test_naive_datetimes_and_option_like_refs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fetch_local_git([tmp_path], START.replace(tzinfo=None), END)
    with pytest.raises(ValueError, match="invalid ref"):
        fetch_local_git([tmp_path], START, END, ref="--output=/tmp/x")


def test_the_snapshot_is_written_as_json(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "written")
    sha = commit(repo, "inside", START + timedelta(hours=1))
    target = fetch_local_git([repo], START, END).write(tmp_path / "work")
    assert target == tmp_path / "work" / "sources" / "git.json"
    assert sha in target.read_text(encoding="utf-8")

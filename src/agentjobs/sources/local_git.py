"""Commits of local git repositories in one data interval, read with `git log`.

git runs without a shell, with a fixed argument list, and its output is split on ASCII
unit/record separators, which cannot be confused with anything a commit subject holds.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from agentjobs.sources.snapshot import Commit, SourceNote, SourceSnapshot

# sha, committer date (strict ISO 8601), author name, subject: one line each, and `-z` ends each
# commit with a NUL. None of them can hold a line break (git strips them from names and joins a
# subject's lines) nor a NUL, while a subject may hold any other control character: separators
# such as \x1f/\x1e split a commit that wrote them into pieces, and it vanished from the digest.
_FORMAT = "%H%n%cI%n%an%n%s"
# git's --since/--until are inclusive and its date parsing is lax, so the window asked of
# git is wider than the interval and every commit is then checked against it exactly.
_SLACK = timedelta(days=1)
_TIMEOUT_S = 120


def fetch_local_git(
    repos: Sequence[Path],
    start: datetime,
    end: datetime,
    *,
    ref: str = "HEAD",
    first_parent: bool = True,
) -> SourceSnapshot:
    """Commits whose committer date is in [start, end), oldest first, one entry per SHA.

    A path that is not a readable git repository becomes a note, never an exception, so one
    mistyped path does not cost the digest the other repositories.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware datetimes")
    if ref.startswith("-"):  # would be read by git as an option
        raise ValueError(f"invalid ref {ref!r}: expected a branch, tag or commit name")
    snapshot = SourceSnapshot(source="git", interval_start=start, interval_end=end)
    seen: set[str] = set()
    for raw in repos:
        path = Path(raw).expanduser()
        try:
            commits = _read_repo(path, start, end, ref=ref, first_parent=first_parent)
        except _Skipped as skipped:
            snapshot.notes.append(SourceNote(source=f"git:{path}", problem=f"{skipped}: skipped"))
            continue
        for commit in commits:
            # The same repository listed twice (or a clone next to its origin) must not
            # show the same commit twice.
            if commit.sha not in seen:
                seen.add(commit.sha)
                snapshot.commits.append(commit)
    snapshot.commits.sort(key=lambda c: (c.date, c.repo, c.sha))
    return snapshot


class _Skipped(Exception):
    """A repository that cannot be read; the message is the reason, shown in the note."""


def _git(path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    # Without a ceiling git walks up the parent folders and would happily read an
    # enclosing repository in place of the (non-repository) folder that was configured.
    env["GIT_CEILING_DIRECTORIES"] = str(path.resolve().parent)
    env["GIT_TERMINAL_PROMPT"] = "0"
    try:
        return subprocess.run(
            ["git", "-C", str(path), *args],
            capture_output=True,
            env=env,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError as exc:
        raise _Skipped("git is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise _Skipped(f"git did not answer within {_TIMEOUT_S}s") from exc


def _read_repo(path: Path, start: datetime, end: datetime, *, ref: str, first_parent: bool) -> list[Commit]:
    if not path.exists():
        raise _Skipped("path does not exist")
    if not path.is_dir():
        raise _Skipped("not a directory")
    if _git(path, "rev-parse", "--git-dir").returncode != 0:
        raise _Skipped("not a git repository")
    if _git(path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise _Skipped(f"no commit at {ref} (empty repository or unknown ref)")

    args = [
        "log",
        "--no-color",
        "--no-show-signature",
        "-z",
        f"--format={_FORMAT}",
        f"--since={(start - _SLACK).isoformat()}",
        f"--until={(end + _SLACK).isoformat()}",
    ]
    if first_parent:
        args.append("--first-parent")
    result = _git(path, *args, ref, "--")
    if result.returncode != 0:
        error = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _Skipped(f"git log failed: {error[-1] if error else 'exit ' + str(result.returncode)}")

    name = path.resolve().name
    commits = []
    for record in result.stdout.decode("utf-8", "replace").split("\x00"):
        fields = record.split("\n", 3)
        if len(fields) != 4:
            continue  # the empty tail after the last commit
        sha, committed, author, subject = fields
        date = datetime.fromisoformat(committed)
        if start <= date < end:
            commits.append(Commit(repo=name, sha=sha, subject=subject, author=author, date=date))
    return commits


def latest_commit_before(
    path: Path, end: datetime, *, ref: str = "HEAD", first_parent: bool = True
) -> datetime | None:
    """The committer date of the newest commit on `ref` dated before `end` (what the demo digest
    shows when the day asked for has none), or None: no such commit or no readable repository."""
    if end.tzinfo is None:
        raise ValueError("end must be a timezone-aware datetime")
    args = ["log", "--no-color", "--format=%cI", "-n", "100", f"--until={(end + _SLACK).isoformat()}"]
    if first_parent:
        args.append("--first-parent")
    try:
        result = _git(path, *args, ref, "--")
    except _Skipped:
        return None
    if result.returncode != 0:
        return None
    dates = [datetime.fromisoformat(line) for line in result.stdout.decode().split()]
    # git's --until is lax (and history need not be in date order): the exact check is here.
    return max((d for d in dates if d < end), default=None)

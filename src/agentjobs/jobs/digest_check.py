"""Validate a digest against its RESULT and its snapshot: the contract, checked in code.

Whoever wrote digest.md (a capable model with tools, or the renderer after a structured
answer), the same checks hold: the bullets equal `items`, every link and SHA comes from
the snapshot, the Commits section lists each commit of the period exactly once, and the
highlights and action items name only what the snapshot holds (jobs/names.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentjobs.agent.errors import ContractViolation
from agentjobs.jobs.digest import ALL_SECTIONS, DIGEST_FILE, SECTION_COMMITS, SECTION_HEADINGS, known_names
from agentjobs.jobs.markdown_text import one_line, unescape, without_bidi_controls
from agentjobs.sources.snapshot import Snapshot

_URL = re.compile(r"https?://[^\s<>\]\"'`]+")
_TRAILING = ".,;:!?*_"
_MORE = re.compile(r"^\+(\d+) more commits?$")
# Where markdown makes a link or an image: [text](target), ![alt](target), <scheme:target>,
# and reference definitions `[label]: target`. An escaped `\]` is text, not a link.
_LINK_TARGET = re.compile(
    r"(?<!\\)\]\(\s*<?(?P<inline>[^)\s>]*)"
    r"|<(?P<auto>[A-Za-z][A-Za-z0-9+.-]*:[^>\s]*)>"
    r"|^\s{0,3}\[[^\]\n]+\]:\s*<?(?P<ref>[^\s>]+)",
    re.MULTILINE,
)


def sections(markdown: str) -> dict[str, list[str]]:
    """Lines under each `## ` heading (subheadings stay inside their section)."""
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = line.strip()
            found[current] = []
        elif current is not None:
            found[current].append(line.rstrip())
    return found


def bullets(lines: list[str]) -> list[str]:
    return [line[2:].strip() for line in lines if line.startswith(("- ", "* "))]


def check_digest(
    work_dir: Path,
    result: dict[str, Any],
    snapshot: Snapshot,
    *,
    commits_cap: int,
    allow_empty: bool,
    job_sections: Sequence[str] = ALL_SECTIONS,
) -> str:
    """Return the digest's text if it keeps the contract; raise ContractViolation listing every problem.

    `job_sections` are the job's: each must be there, their bullets are the items, and the commit
    list is checked only where the job lists commits."""
    path = result.get("path")
    if path != DIGEST_FILE:
        raise ContractViolation(f"RESULT path is {path!r}; the digest must be written to {DIGEST_FILE!r}")
    file = work_dir / DIGEST_FILE
    if not file.is_file():
        raise ContractViolation(f"RESULT names {DIGEST_FILE} but {file} does not exist")
    markdown = file.read_text(encoding="utf-8")
    found = sections(markdown)
    counted_sections = [SECTION_HEADINGS[name] for name in job_sections]
    problems = [f"missing section {name!r}" for name in counted_sections if name not in found]
    counted = sum(len(bullets(found.get(name, []))) for name in counted_sections)
    if counted != result.get("items"):
        problems.append(f"RESULT says items={result.get('items')} but the digest has {counted} bullets")
    invented = invented_urls(markdown, snapshot)
    if invented:
        problems.append(f"links not in the snapshot (invented?): {invented[:5]}")
    foreign = foreign_links(markdown, snapshot)
    if foreign:
        problems.append(f"links or images to what is not an item of the snapshot: {foreign[:5]}")
    problems += invented_names(found, snapshot, job_sections)
    if "commits" in job_sections:
        problems += _check_commits(found.get(SECTION_COMMITS, []), snapshot, commits_cap)
    if counted == 0 and not allow_empty:
        problems.append("the digest is empty (items: 0) and this job does not allow empty days")
    if problems:
        raise ContractViolation("digest.md breaks the contract: " + "; ".join(problems))
    return markdown


# The judged sections: what the model words itself. Commits are checked against their subjects.
_JUDGED = ("highlights", "actions")
_EMPHASIS = re.compile(r"(?<!\\)(?:\*\*|__)")


def invented_names(found: dict[str, list[str]], snapshot: Snapshot, job_sections: Sequence[str]) -> list[str]:
    """One problem per highlight or action bullet that names what no string of the snapshot holds,
    quoting the first such name and the bullet."""
    names = known_names(snapshot)
    problems = []
    for section in (s for s in _JUDGED if s in job_sections):
        heading = SECTION_HEADINGS[section]
        for n, bullet in enumerate(bullets(found.get(heading, [])), start=1):
            text = one_line(unescape(_EMPHASIS.sub("", bullet)))
            invented = names.unknown(text)
            if invented:
                problems.append(
                    f"{heading.removeprefix('## ')} bullet {n} names {invented[0]!r}, which is in no "
                    f"item of the snapshot: {text[:200]!r}"
                )
    return problems


def invented_urls(markdown: str, snapshot: Snapshot) -> list[str]:
    """URLs in the digest that appear nowhere in the snapshot (links, subjects, notes, summaries)."""
    quoted = snapshot.model_dump_json()
    # Also as the digest quotes source text: without bidi controls (markdown_text.one_line).
    in_text = _URL.findall(quoted) + _URL.findall(without_bidi_controls(quoted))
    known = snapshot.urls() | {_trim(u) for u in in_text}
    invented: set[str] = set()
    # The URLs as a reader sees them: source text quoted in the digest is markdown-escaped.
    for raw in _URL.findall(unescape(markdown)):
        url = _trim(raw)
        # A markdown "(url)" wraps the link in a parenthesis that may or may not belong to it.
        while url not in known and url.endswith(")"):
            url = _trim(url[:-1])
        if url not in known:
            invented.add(_trim(raw))
    return sorted(invented)


def foreign_links(markdown: str, snapshot: Snapshot) -> list[str]:
    """Link and image targets that are not the URL of an item in the snapshot.

    A URL that appears only inside source text (a title, a subject, a summary) may be quoted
    as text, but nothing may link to it: hostile text must not choose where a link goes.
    """
    items = snapshot.urls()
    found = set()
    for match in _LINK_TARGET.finditer(markdown):
        target = unescape(match.group("inline") or match.group("auto") or match.group("ref") or "")
        if target not in items:
            found.add(target)
    return sorted(found)


def _trim(url: str) -> str:
    return url.rstrip(_TRAILING)


def _same_subject(listed: str, fetched: str) -> bool:
    """As fetched, or as the renderer writes it: on one line, markdown-escaped."""
    return listed.strip() == fetched.strip() or unescape(listed.strip()) == one_line(fetched)


def _check_commits(lines: list[str], snapshot: Snapshot, cap: int) -> list[str]:
    commits = {c.sha: c for c in snapshot.commits}
    problems: list[str] = []
    listed: list[str] = []
    for bullet in bullets(lines):
        short, _, subject = bullet.partition(" ")
        matches = [sha for sha in commits if len(short) >= 7 and sha.startswith(short.lower())]
        if len(matches) != 1:
            problems.append(f"commit {short!r} is not a commit of this period")
            continue
        sha = matches[0]
        if not _same_subject(subject, commits[sha].subject):
            problems.append(f"commit {short} is listed as {subject!r}, fetched as {commits[sha].subject!r}")
        listed.append(sha)
    duplicates = sorted({s[:7] for s in listed if listed.count(s) > 1})
    if duplicates:
        problems.append(f"commits listed more than once: {duplicates}")
    more = [int(m.group(1)) for line in lines if (m := _MORE.match(line.strip()))]
    expected_listed = min(len(commits), cap)
    if len(set(listed)) != expected_listed:
        problems.append(f"{len(set(listed))} commits listed, expected {expected_listed} of {len(commits)}")
    expected_more = len(commits) - expected_listed
    if expected_more and more != [expected_more]:
        problems.append(f"expected one line '+{expected_more} more commits' after the cap of {cap}")
    if not expected_more and more:
        problems.append("a '+N more' line although every commit is listed")
    return problems

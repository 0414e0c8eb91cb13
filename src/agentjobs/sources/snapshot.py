"""The snapshot: what the sources found in one data interval, as compact JSON.

Each fetch task writes one `SourceSnapshot` file under `<work dir>/sources/`; the agent
and the validator read them merged. Everything the digest may link to or name is an
identifier here (a commit SHA or a URL), so the digest can be checked against it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentjobs.agent.unicode_text import valid_unicode
from agentjobs.atomic_file import write_atomically

SOURCES_DIR = "sources"


class _Item(BaseModel):
    # Built on first use, not at import: the DAG processor imports this module with the digest's
    # operators and never validates a snapshot (bench/dag_parse.py).
    model_config = ConfigDict(extra="forbid", defer_build=True)

    @field_validator("*", mode="after")
    @classmethod
    def _encodable(cls, value: object) -> object:
        # A title holding a lone surrogate (JSON's "\ud800") cannot be written as UTF-8: it
        # would crash the snapshot write, and later the email. It becomes U+FFFD here, once.
        return valid_unicode(value) if isinstance(value, str) else value


class Commit(_Item):
    repo: str  # "owner/name" on GitHub, the folder name for a local repository
    sha: str  # full SHA
    subject: str  # first line of the message
    author: str = ""
    date: datetime
    url: str | None = None  # None for local repositories

    @property
    def short_sha(self) -> str:
        return self.sha[:7]


class PullRequest(_Item):
    repo: str
    number: int
    title: str
    url: str
    action: str  # "opened" | "merged"
    author: str = ""
    date: datetime


class Issue(_Item):
    repo: str
    number: int
    title: str
    url: str
    action: str  # "opened" | "closed"
    author: str = ""
    date: datetime


class Release(_Item):
    repo: str
    tag: str
    name: str
    url: str
    date: datetime


class FeedEntry(_Item):
    feed: str  # the feed's title, or its URL when it has none
    title: str
    url: str
    date: datetime
    summary: str = ""  # plain text, shortened


class SourceNote(_Item):
    """A source that was skipped or partly read, said plainly so the digest can say it too."""

    source: str
    problem: str


class _Activity(_Item):
    """What happened in one interval; a source's part, or all of it merged."""

    interval_start: datetime
    interval_end: datetime
    commits: list[Commit] = Field(default_factory=list)
    pull_requests: list[PullRequest] = Field(default_factory=list)
    issues: list[Issue] = Field(default_factory=list)
    releases: list[Release] = Field(default_factory=list)
    entries: list[FeedEntry] = Field(default_factory=list)
    notes: list[SourceNote] = Field(default_factory=list)


class SourceSnapshot(_Activity):
    source: str  # "git", "github", "rss"

    def write(self, work_dir: Path) -> Path:
        """Write atomically to `<work_dir>/sources/<source>.json`, so no reader sees half a file."""
        target = work_dir / SOURCES_DIR / f"{self.source}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, self.model_dump_json(indent=1))
        return target


class Snapshot(_Activity):
    """All sources of one run, merged."""

    @classmethod
    def load(cls, work_dir: Path) -> Snapshot:
        files = sorted((work_dir / SOURCES_DIR).glob("*.json"))
        if not files:
            raise FileNotFoundError(
                f"no source snapshot in {work_dir / SOURCES_DIR}: run the fetch tasks of this run first"
            )
        parts = [SourceSnapshot.model_validate(json.loads(f.read_text(encoding="utf-8"))) for f in files]
        merged = cls(
            interval_start=min(p.interval_start for p in parts),
            interval_end=max(p.interval_end for p in parts),
        )
        for part in parts:
            for name in ("commits", "pull_requests", "issues", "releases", "entries", "notes"):
                getattr(merged, name).extend(getattr(part, name))
        return merged

    def urls(self) -> set[str]:
        found = {x.url for x in (*self.pull_requests, *self.issues, *self.releases, *self.entries)}
        found.update(c.url for c in self.commits if c.url)
        return found

    def shas(self) -> set[str]:
        return {c.sha for c in self.commits}

    def is_empty(self) -> bool:
        return not any((self.commits, self.pull_requests, self.issues, self.releases, self.entries))

"""Job specs, sources and alert readers shared by the scheduler tests.

Each test adds its own job (a unique dag_id, UTC) with a small git repository and a feed
dated on the digested days, so the structured summarize step makes one model call per day.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from agentjobs.sources.demo_feed import render_demo_feed
from tests.scheduler.conftest import SchedulerServices

TODAY = datetime.now(UTC).date()
ONCALL = "oncall@example.org"


def logical_date_of(day: date) -> datetime:
    """The scheduled run that digests `day`: 03:00 UTC the next morning."""
    return datetime.combine(day + timedelta(days=1), time(3), tzinfo=UTC)


def unique_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def make_sources(root: Path, days: list[date], *, feed_extra: str = "") -> dict[str, Any]:
    """A git repository with one commit on each day, and the demo feed dated on each day.

    `feed_extra` is appended to every feed item's description (e.g. planted secrets).
    """
    repo = root / "repo"
    repo.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org"}
    env.update(GIT_COMMITTER_NAME="Ada", GIT_COMMITTER_EMAIL="ada@example.org")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    feeds = []
    for day in days:
        stamp = datetime.combine(day, time(10), UTC).isoformat()
        dated = {**env, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", f"{day}: tune the caps"],
            check=True,
            env=dated,
        )
        feed = root / f"feed-{day}.xml"
        text = render_demo_feed(day)  # items for the model to judge
        if feed_extra:
            text = text.replace("</description>", f" {feed_extra}</description>")
        feed.write_text(text)
        feeds.append(str(feed))
    return {"git": {"repos": [str(repo)]}, "rss": {"feeds": feeds}}


def short_sha(repo: str | Path, day: date) -> str:
    """The 7-character SHA of the repository's commit on `day` (make_sources makes one a day)."""
    out = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%h %s", "--abbrev=7"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (sha,) = [line.split()[0] for line in out.splitlines() if line.split()[1] == f"{day}:"]
    return sha


def quiet_sources(root: Path) -> dict[str, Any]:
    """A repository whose only commit is long ago: every recent day is empty."""
    repo = root / "quiet"
    repo.mkdir(parents=True)
    stamp = "2020-01-01T10:00:00+00:00"
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org"}
    env.update(GIT_COMMITTER_NAME="Ada", GIT_COMMITTER_EMAIL="ada@example.org")
    env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "long ago"], check=True, env=env
    )
    return {"git": {"repos": [str(repo)]}}


def job_spec(
    dag_id: str,
    services: SchedulerServices,
    sources: dict[str, Any],
    first_day: date,
    llm_conn_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    spec = {
        "dag_id": dag_id,
        "title": f"Unattended {dag_id}",
        "schedule": "0 3 * * *",
        "timezone": "UTC",
        "start_date": (first_day - timedelta(days=10)).isoformat(),
        "catchup": True,
        "skill": "daily-digest",
        "mode": "structured",
        "llm_conn_id": llm_conn_id or services.llm_conn_id,
        "ledger_conn_id": services.ledger_conn_id,
        "sources": sources,
        "channels": [],
        "alert": {"type": "email", "conn_id": services.smtp_conn_id, "to": [ONCALL]},
    }
    spec.update(overrides)
    return spec


def alert_emails(services: SchedulerServices, dag_id: str) -> list[tuple[email.message.EmailMessage, Any]]:
    """(parsed message, envelope) of every email whose subject names the job."""
    found = []
    for envelope in list(services.smtp.messages):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        # The whole dag_id: "sched_x" must not match the alerts of "sched_x2".
        if re.search(rf"(?<![\w.-]){re.escape(dag_id)}(?![\w.-])", str(parsed["Subject"])):
            found.append((parsed, envelope))
    return found


def body_of(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()

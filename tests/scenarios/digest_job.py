"""The daily digest job the scenario tests share: its day, its 03:00 run, a local git repository
with that day's commits, a model that highlights what it is offered, and the `job` fixture (git +
RSS sources, email, Slack and S3 on their loopback fakes). Other test folders (cli, ui, the wheel
test) run the same job, so this lives in a module of its own rather than in a test module."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agentjobs.sources.demo_feed import render_demo_feed
from tests.airflow.conftest import run_dag
from tests.fakes.model_server import reply, respond
from tests.jobs.specs import digest_spec, sqlite_ledger

DAY = date(2026, 11, 24)
LOGICAL = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # the 03:00 run digests the day before


def make_repo(path: Path, commits: list[tuple[str, str]]) -> Path:
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org"}
    env.update(GIT_COMMITTER_NAME="Ada", GIT_COMMITTER_EMAIL="ada@example.org")
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for stamp, subject in commits:
        env_at = {**env, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        subprocess.run(
            ["git", "-C", str(path), "commit", "-q", "--allow-empty", "-m", subject], check=True, env=env_at
        )
    return path


def pick_first_refs(request):
    """A model that highlights the first two items it was offered, by their enum refs."""
    schema = request.body["response_format"]["json_schema"]["schema"]
    refs = schema["properties"]["highlights"]["items"]["properties"]["ref"]["enum"]
    answer = {
        "highlights": [{"ref": ref, "takeaway": f"Worth a look: item {i}"} for i, ref in enumerate(refs[:2])],
        "action_items": [{"ref": refs[0], "action": "Share it with the on-call team"}],
    }
    return reply(json.dumps(answer), prompt_tokens=400, completion_tokens=60)


@pytest.fixture
def job(tmp_path, model_server, llm_conn, smtp_server, s3_server, slack_server, monkeypatch):
    repo = make_repo(
        tmp_path / "repo",
        [
            ("2026-11-23T12:00:00+00:00", "Before the day"),
            ("2026-11-24T09:00:00+00:00", "Add the fetch step"),
            ("2026-11-24T15:30:00+00:00", "Fix the retry policy"),
            ("2026-11-25T08:00:00+00:00", "After the day"),
        ],
    )
    feed = tmp_path / "feed.xml"
    feed.write_text(render_demo_feed(DAY))
    spec = digest_spec(
        "digest_e2e",
        llm_conn,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
        sources={"git": {"repos": [str(repo)]}, "rss": {"feeds": [str(feed)]}},
        channels=[
            {"type": "email", "conn_id": smtp_server.conn_id, "to": ["team@example.org"]},
            {"type": "slack", "conn_id": slack_server.api_conn_id, "channel": "C0DIGEST"},
            {"type": "s3", "conn_id": s3_server.conn_id, "bucket": s3_server.bucket},
        ],
    )
    model_server.default_step = respond(pick_first_refs)
    return spec


def states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def rerun(dag, **kwargs):
    """Run the same logical date again, as a clear of the whole run does."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()
    return run_dag(dag, logical_date=LOGICAL, **kwargs)

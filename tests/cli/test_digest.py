"""`agentjobs digest` as a user runs it: a subprocess, an output folder, one line on failure."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from agentjobs.cli.args import parse_args
from agentjobs.cli.digest import default_day
from agentjobs.sources.demo_feed import render_demo_feed
from tests.cli.helpers import agentjobs
from tests.conftest import REPO
from tests.fakes.model_server import error, respond
from tests.scenarios.digest_job import make_repo, pick_first_refs


@pytest.fixture
def endpoint(model_server) -> dict[str, str]:
    model_server.default_step = respond(pick_first_refs)
    return {
        "OPENAI_BASE_URL": model_server.base_url,
        "OPENAI_API_KEY": "sk-cli",
        "AGENTJOBS_MODEL": "scripted",
    }


def test_digest_of_a_local_repo_and_feed_against_an_openai_compatible_endpoint(endpoint, tmp_path):
    repo = make_repo(tmp_path / "repo", [("2026-11-24T09:00:00+00:00", "Teach the digest to count")])
    feed = tmp_path / "feed.xml"
    from agentjobs.sources.demo_feed import render_demo_feed

    feed.write_text(render_demo_feed(date(2026, 11, 24)))
    out = tmp_path / "out"
    result = agentjobs(
        "digest",
        "--repo",
        str(repo),
        "--feed",
        str(feed),
        "--date",
        "2026-11-24",
        "--timezone",
        "UTC",
        "--out",
        str(out),
        env=endpoint,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    digest = out / "daily_digest" / "2026-11-24" / "digest.md"
    assert f"digest written to {digest}" in result.stdout
    assert "Teach the digest to count" in result.stdout  # it shows the digest
    assert digest.read_text() in result.stdout
    assert (digest.parent / "transcript.jsonl").is_file() and (
        digest.parent / "sources" / "git.json"
    ).is_file()
    # The demo set-up creates the LLM pool the shipped spec names, as a deployment must.
    assert "created the Airflow pool 'agentjobs_llm' (1 slot)" in result.stdout
    with sqlite3.connect(out / ".airflow" / "airflow.db") as db:
        assert db.execute("select slots from slot_pool where pool = 'agentjobs_llm'").fetchall() == [(1,)]


def test_a_second_digest_of_the_same_day_reads_the_sources_it_is_given_now(endpoint, tmp_path):
    # The scheduled DAG reuses a day's snapshot (a clear re-summarizes the same input); the command
    # names its sources each time, and kept digesting the first run's: a feed fixed after a
    # failure, or swapped for another, was never read.
    first, second = tmp_path / "first.xml", tmp_path / "second.xml"
    feed = render_demo_feed(date(2026, 11, 24))
    first.write_text(feed)
    second.write_text(feed.replace("Airflow 3 asset-aware scheduling in practice", "Second feed headline"))
    args = ("digest", "--date", "2026-11-24", "--timezone", "UTC", "--out", str(tmp_path / "out"))
    assert agentjobs(*args, "--feed", str(first), env=endpoint, cwd=tmp_path).returncode == 0
    again = agentjobs(*args, "--feed", str(second), env=endpoint, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Second feed headline" in again.stdout
    assert "Airflow 3 asset-aware scheduling in practice" not in again.stdout


def test_a_failure_exits_non_zero_with_the_reason_on_one_line(model_server, endpoint, tmp_path):
    model_server.default_step = error(401, "invalid api key")
    out = tmp_path / "out"
    result = agentjobs(
        "digest",
        "--date",
        "2026-11-24",
        "--timezone",
        "UTC",
        "--out",
        str(out),
        "--max-iterations",
        "3",
        env=endpoint,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    failure = [line for line in result.stderr.splitlines() if line.startswith("agentjobs: digest failed")]
    assert len(failure) == 1
    assert "summarize" in failure[0] and "HTTP 401" in failure[0]
    assert "sk-cli" not in result.stderr + result.stdout
    # Without --verbose the line is not buried under Airflow's tracebacks of the failed tasks
    # (~50-90 lines each, one for the task and one for the run's alert task; Airflow's log goes
    # to stdout here, to the terminal either way).
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown and len(shown.splitlines()) < 15, shown
    # ...nor under dag.test()'s word on the run's alert task, which ran as it should.
    assert "unrunnable tasks" not in shown, shown


def test_an_unreachable_endpoint_fails_at_once_naming_its_url_and_the_variable(model_server, tmp_path):
    """One try at a terminal (no retry delay waited out), and the line says what to fix."""
    import time

    gone = model_server.base_url.rstrip("/")
    model_server.stop()
    env = {"OPENAI_BASE_URL": gone, "OPENAI_API_KEY": "sk-cli", "AGENTJOBS_MODEL": "scripted"}
    args = ("digest", "--date", "2026-11-24", "--timezone", "UTC", "--out", str(tmp_path / "out"))
    started = time.monotonic()
    result = agentjobs(*args, env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert time.monotonic() - started < 120  # the spec's retry delay is minutes
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("agentjobs: digest failed")]
    assert f"cannot reach the model endpoint {gone} (" in line and "OPENAI_BASE_URL" in line, line
    assert "sk-cli" not in result.stderr + result.stdout


def test_an_exhausted_budget_names_the_cap(model_server, endpoint, tmp_path):
    from tests.fakes.model_server import reply

    model_server.default_step = reply("not json at all")  # every answer breaks the contract
    result = agentjobs(
        "digest",
        "--date",
        "2026-11-24",
        "--timezone",
        "UTC",
        "--out",
        str(tmp_path / "out"),
        "--max-iterations",
        "1",
        env=endpoint,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "max_iterations limit 1" in result.stderr


@pytest.mark.slow
def test_digest_on_the_embedded_local_model(tmp_path):
    """The README's first command in miniature: no API key, no server started by hand."""
    from agentjobs.local_model import LocalModelUnavailable, llama_server_binary, model_file

    try:
        llama_server_binary()
        model_file()
    except LocalModelUnavailable as exc:
        if os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1":
            raise
        pytest.skip(f"the [local] extra is not installed: {exc}")
    out = tmp_path / "out"
    result = agentjobs("digest", "--date", "2026-11-24", "--out", str(out), env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "with the embedded local model" in result.stdout
    digest = next(out.glob("daily_digest/2026-11-24/digest.md"))
    text = digest.read_text()
    assert text in result.stdout
    # Whatever the tiny model picked, it could only pick real items: the validate task passed.
    assert "## Tech highlights" in text and "https://example.org/" in text


def test_digest_of_a_day_before_the_specs_start_date_digests_that_day(endpoint, tmp_path):
    """The shipped spec starts 2026-11-01; a one-off digest of an earlier day still runs its tasks."""
    repo = make_repo(tmp_path / "repo", [("2025-09-10T09:00:00+00:00", "Parse the old config format")])
    out = tmp_path / "out"
    result = agentjobs(
        "digest",
        "--repo",
        str(repo),
        "--date",
        "2025-09-10",
        "--timezone",
        "UTC",
        "--out",
        str(out),
        env=endpoint,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    digest = out / "daily_digest" / "2025-09-10" / "digest.md"
    assert f"digest written to {digest}" in result.stdout
    assert "Parse the old config format" in digest.read_text()


def demo_project(tmp_path: Path, commits: list[tuple[str, str]]) -> Path:
    """A checkout whose own history is `commits`, with the shipped include/ (what the demo reads)."""
    project = make_repo(tmp_path / "project", commits)
    (project / "include").symlink_to(REPO / "include")
    return project


def days_ago(days: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=days)


def test_the_demo_digests_yesterday_when_the_history_has_commits_that_day(tmp_path, capsys):
    project = demo_project(tmp_path, [(f"{days_ago(1)}T12:00:00+00:00", "Yesterday's work")])
    assert default_day(parse_args(["digest"]), project, "UTC") == days_ago(1)
    assert capsys.readouterr().out == ""


def test_a_named_source_is_digested_for_yesterday_even_when_the_demo_history_is_older(tmp_path):
    project = demo_project(tmp_path, [(f"{days_ago(6)}T12:00:00+00:00", "Older work")])
    args = parse_args(["digest", "--feed", "https://example.org/feed.xml"])
    assert default_day(args, project, "UTC") == days_ago(1)


def test_the_demo_without_a_date_digests_the_latest_day_with_commits_and_says_so(endpoint, tmp_path):
    """A fresh clone whose history ends days ago: the README's first command still shows commits."""
    project = demo_project(
        tmp_path,
        [
            (f"{days_ago(9)}T12:00:00+00:00", "Start the parser"),
            (f"{days_ago(4)}T08:00:00+00:00", "Teach the parser comments"),
            (f"{days_ago(4)}T15:00:00+00:00", "Document the parser"),
        ],
    )
    out = tmp_path / "out"
    result = agentjobs(
        "digest",
        "--timezone",
        "UTC",
        "--out",
        str(out),
        env={**endpoint, "AGENTJOBS_PROJECT_DIR": str(project)},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    said = [line for line in result.stdout.splitlines() if "latest day with commits" in line]
    assert said == [
        f"agentjobs: no commits on {days_ago(1)} in {project}: digesting {days_ago(4)}, "
        "its latest day with commits (--date picks the day)"
    ]
    digest = (out / "daily_digest" / days_ago(4).isoformat() / "digest.md").read_text()
    assert "Teach the parser comments" in digest and "Document the parser" in digest
    assert "Start the parser" not in digest
    assert "## Tech highlights" in digest and "https://example.org/" in digest  # the re-dated feed


def test_a_day_airflow_would_not_run_is_refused_in_plain_words(monkeypatch, capsys):
    from agentjobs import cli
    from agentjobs.dag_test import NothingRan

    def refuse(_args):
        raise NothingRan("daily_digest: the logical date 2025-09-10 is before the DAG's start_date")

    monkeypatch.setitem(cli.COMMANDS, "digest", refuse)
    assert cli.main(["digest"]) == 1
    err = capsys.readouterr().err
    assert err == "agentjobs: daily_digest: the logical date 2025-09-10 is before the DAG's start_date\n"

"""The digest DAG when things go wrong: a missing repository, an empty day, an invented link."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.github import commit, pull, release
from tests.fakes.model_server import reply, tool_call
from tests.jobs.specs import digest_spec
from tests.scenarios.digest_job import LOGICAL, make_repo, pick_first_refs, states

pytestmark = pytest.mark.airflow
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def spec_for(llm_conn, sources, *, mode="structured", alert=None, allow_empty=False):
    return digest_spec(
        "digest_fail", llm_conn, mode=mode, allow_empty=allow_empty, sources=sources, alert=alert
    )


def test_a_missing_repository_is_skipped_and_noted(llm_conn, model_server, github_api, monkeypatch):
    from agentjobs.operators.factory import build_dag

    github_api.add_repo(
        "acme/app",
        commits=[commit("acme/app", "a1b2c3d", "Ship the new importer", NOON)],
        pulls=[pull("acme/app", 7, "Add importer", NOON - timedelta(hours=2), merged=NOON)],
        releases=[release("acme/app", "v1.2.0", NOON)],
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_GITHUB_TEST",
        json.dumps({"conn_type": "generic", "host": github_api.base_url, "password": "ghp_" + "x" * 36}),
    )
    model_server.default_step = __import__("tests.fakes.model_server", fromlist=["respond"]).respond(
        pick_first_refs
    )
    sources = {"github": {"repos": ["acme/app", "acme/gone"], "conn_id": "github_test"}}
    run = run_dag(build_dag(spec_for(llm_conn, sources)), logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    fetched = xcom(run, "fetch_github")
    assert fetched["commits"] == 1 and fetched["notes"] == [
        "github:acme/gone: repository not found or not accessible with this token: skipped"
    ]
    digest = open(xcom(run, "validate")["artifact"]).read()
    assert "a1b2c3d Ship the new importer" in digest
    assert "> github:acme/gone: repository not found" in digest
    assert "https://github.com/acme/app/releases/tag/v1.2.0" in digest
    # The token went to GitHub as a header and nowhere else.
    assert all(r.headers.get("authorization") == "Bearer ghp_" + "x" * 36 for r in github_api.requests)


@pytest.mark.parametrize(
    ("status", "message", "says"),
    [
        (401, "Bad credentials", "wrong, expired or revoked"),  # a wrong or revoked token
        (403, "Resource not accessible by personal access token", "grant it read access"),
    ],
    ids=["bad-credentials", "forbidden-repository"],
)
def test_a_refused_github_token_fails_at_once_with_one_alert(
    llm_conn, model_server, github_api, smtp_server, monkeypatch, status, message, says
):
    """A refusal a retry would only repeat: no retry after the retry delay, one alert, no model call."""
    from agentjobs.operators.factory import build_dag

    github_api.add_repo("acme/app", commits=[commit("acme/app", "a1b2c3d", "Ship it", NOON)])
    github_api.fail_next(5, status=status, message=message)
    monkeypatch.setenv(
        "AIRFLOW_CONN_GITHUB_TEST",
        json.dumps({"conn_type": "generic", "host": github_api.base_url, "password": "ghp_" + "r" * 36}),
    )
    alert = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    sources = {"github": {"repos": ["acme/app"], "conn_id": "github_test"}}
    spec = digest_spec("digest_denied", llm_conn, sources=sources, alert=alert, retries=3, retry_delay_s=0.1)
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert states(run)["fetch_github"] == "failed", states(run)  # not up_for_retry
    assert len(github_api.requests) == 1 and model_server.calls == 0
    (mail,) = smtp_server.messages
    parsed = email.message_from_bytes(mail.content, policy=email.policy.default)
    text = parsed.get_body(("plain",)).get_content()
    assert "GitHubAccessDenied" in text and f"{status} {message}" in text and says in text
    assert "ghp_" not in text


def test_an_empty_day_fails_and_sends_one_alert(llm_conn, model_server, smtp_server, tmp_path):
    from agentjobs.operators.factory import build_dag

    repo = make_repo(tmp_path / "quiet", [("2026-11-20T10:00:00+00:00", "Long ago")])
    alert = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    spec = spec_for(llm_conn, {"git": {"repos": [str(repo)]}}, alert=alert)
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert states(run)["summarize"] == "failed"
    assert states(run)["validate"] == "upstream_failed"
    assert model_server.calls == 0  # nothing to judge: no tokens spent on an empty day
    (mail,) = smtp_server.messages
    text = mail.content.decode()
    assert spec.dag_id in text and "2026-11-25" in text and "summarize" in text
    assert "EmptyResult" in text


def test_an_empty_day_whose_feed_failed_names_the_feed_in_the_alert(
    llm_conn, model_server, smtp_server, tmp_path
):
    # "items is 0, pass allow_empty=True" alone sent whoever was paged to the wrong fix: the day
    # was empty because the feed could not be read, which only the fetch task's log said.
    from agentjobs.operators.factory import build_dag

    feed = tmp_path / "moved-away.xml"
    alert = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    spec = spec_for(llm_conn, {"rss": {"feeds": [str(feed)]}}, alert=alert)
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert states(run)["summarize"] == "failed"
    (mail,) = smtp_server.messages
    parsed = email.message_from_bytes(mail.content, policy=email.policy.default)
    text = " ".join(parsed.get_body(("plain",)).get_content().split())
    assert "EmptyResult" in text and f"what the sources noted: rss:{feed}: " in text, text


def test_an_empty_day_is_fine_when_the_job_allows_it(llm_conn, model_server, tmp_path):
    from agentjobs.operators.factory import build_dag

    repo = make_repo(tmp_path / "quiet", [("2026-11-20T10:00:00+00:00", "Long ago")])
    spec = spec_for(llm_conn, {"git": {"repos": [str(repo)]}}, allow_empty=True)
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}
    assert xcom(run, "validate")["items"] == 0


def test_an_invented_link_is_a_contract_failure(llm_conn, model_server, smtp_server, tmp_path):
    """A capable model in loop mode writes digest.md itself; validation catches the made-up URL."""
    from agentjobs.operators.factory import build_dag

    repo = make_repo(tmp_path / "repo", [("2026-11-24T09:00:00+00:00", "Add the fetch step")])
    sha = (
        __import__("subprocess")
        .run(
            ["git", "-C", str(repo), "rev-parse", "--short=7", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
    )
    digest = (
        "# Daily digest — 2026-11-24\n\n## Commits\n\n"
        f"- {sha} Add the fetch step\n\n## Tech highlights\n\n"
        "- Big news — a release nobody made (https://example.org/invented)\n\n"
        "## Action items (if any)\n\nNone today.\n"
    )
    model_server.script(
        tool_call("list_files", {"path": "sources"}),
        tool_call("write_file", {"path": "digest.md", "content": digest}),
        reply('Written.\nRESULT: {"path": "digest.md", "items": 2}'),
    )
    alert = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    spec = spec_for(llm_conn, {"git": {"repos": [str(repo)]}}, mode="loop", alert=alert)
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert states(run)["summarize"] == "success"
    assert states(run)["validate"] == "failed"
    (mail,) = smtp_server.messages
    assert "ContractViolation" in mail.content.decode() and "invented" in mail.content.decode()


def test_caps_come_from_the_dag_params_of_the_triggered_run(llm_conn, model_server, tmp_path):
    from agentjobs.operators.factory import build_dag
    from tests.fakes.model_server import respond

    model_server.default_step = respond(pick_first_refs)  # 400 prompt + 60 completion tokens
    repo = make_repo(tmp_path / "repo", [("2026-11-24T09:00:00+00:00", "One change")])
    feed = tmp_path / "feed.xml"
    from agentjobs.sources.demo_feed import render_demo_feed

    feed.write_text(render_demo_feed(LOGICAL.date() - timedelta(days=1)))
    spec = spec_for(llm_conn, {"git": {"repos": [str(repo)]}, "rss": {"feeds": [str(feed)]}})
    run = run_dag(build_dag(spec), logical_date=LOGICAL, run_conf={"caps": {"max_total_tokens": 300}})
    assert states(run)["summarize"] == "failed"
    failure = xcom(run, "summarize", key="usage")
    assert "max_total_tokens limit 300, used 460" in failure["error"]
    assert model_server.requests[0].body["max_tokens"] == 300  # clamped to the Param's budget


def test_a_run_that_changes_one_cap_keeps_the_specs_other_caps(llm_conn, model_server, tmp_path):
    from agentjobs.operators.factory import build_dag
    from tests.fakes.model_server import respond

    model_server.default_step = respond(pick_first_refs)  # 400 prompt + 60 completion tokens
    from agentjobs.sources.demo_feed import render_demo_feed

    repo = make_repo(tmp_path / "repo", [("2026-11-24T09:00:00+00:00", "One change")])
    feed = tmp_path / "feed.xml"
    feed.write_text(render_demo_feed(LOGICAL.date() - timedelta(days=1)))
    sources = {"git": {"repos": [str(repo)]}, "rss": {"feeds": [str(feed)]}}
    spec = digest_spec("digest_caps", llm_conn, sources=sources, caps={"max_total_tokens": 300})
    # The run's conf names another cap: the spec's token cap still holds.
    run = run_dag(build_dag(spec), logical_date=LOGICAL, run_conf={"caps": {"max_iterations": 5}})
    assert states(run)["summarize"] == "failed"
    assert "max_total_tokens limit 300, used 460" in xcom(run, "summarize", key="usage")["error"]


def test_a_cap_named_outside_caps_in_the_conf_is_refused_before_any_model_call(
    llm_conn, model_server, smtp_server, tmp_path
):
    from agentjobs.operators.factory import build_dag
    from tests.fakes.model_server import respond

    model_server.default_step = respond(pick_first_refs)
    repo = make_repo(tmp_path / "repo", [("2026-11-24T09:00:00+00:00", "One change")])
    alert = {"type": "email", "conn_id": smtp_server.conn_id, "to": ["oncall@example.org"]}
    spec = spec_for(llm_conn, {"git": {"repos": [str(repo)]}}, alert=alert)
    # How the job DAGs took a cap before it was one `caps` Param: not silently ignored.
    run = run_dag(build_dag(spec), logical_date=LOGICAL, run_conf={"max_total_tokens": 300})
    assert states(run)["summarize"] == "failed"
    assert model_server.calls == 0
    (mail,) = smtp_server.messages
    text = (
        email.message_from_bytes(mail.content, policy=email.policy.default).get_body(("plain",)).get_content()
    )
    assert 'trigger with {"caps": {"max_total_tokens": 300}} instead' in text

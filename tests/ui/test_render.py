"""The pages as HTML from plain rows: every value from a spec, a database or a model is escaped, the
links are built from quoted parts, and the numbers sit in `data-field` cells."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

from agentjobs.jobs.health import JobHealth
from agentjobs.ui import render
from agentjobs.ui.records import AgentRun, DailyUsage, Delivery

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
WHEN = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def agent_run(**fields) -> AgentRun:
    values = {
        "job": "daily_digest",
        "run_id": "scheduled__2026-11-25T03:00:00+00:00",
        "task_id": "summarize",
        "map_index": -1,
        "logical_date": WHEN,
        "run_after": WHEN,
        "state": "success",
        "try_number": 1,
        "period": "2026-11-24",
    }
    return AgentRun(**{**values, **fields})


def runs_page(runs=(), health=(), usage=(), **fields) -> str:
    values = {"prefix": "/agentjobs", "jobs": ["daily_digest"], "job": None, "since": None, "until": None}
    return render.runs_page(runs=list(runs), health=list(health), usage=list(usage), **{**values, **fields})


def run_page(run: AgentRun, **fields) -> str:
    values = {
        "prefix": "/agentjobs",
        "links": render.airflow_links("", run),
        "artifact_name": "digest.md",
        "artifact_html": None,
        "transcript": None,
        "files": [],
    }
    return render.run_page(run=run, **{**values, **fields})


def field(html: str, name: str) -> list[str]:
    """The text of every element carrying data-field=`name`."""
    found = re.findall(rf'data-field="{name}"[^>]*>(.*?)</(?:td|span|p|div)>', html, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in found]


def assert_no_markup_from(html: str) -> None:
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "onerror=alert(2)>" not in html  # the attribute could not close its tag


def test_text_from_specs_databases_and_models_is_shown_as_text_on_the_runs_page():
    hostile_run = agent_run(
        job=HOSTILE,
        team=HOSTILE,
        model=HOSTILE,
        deliveries=[Delivery("email", HOSTILE, HOSTILE, 1, WHEN)],
    )
    html = runs_page(
        [hostile_run],
        usage=[DailyUsage(date(2026, 11, 25), HOSTILE, 10, 0.5, 1)],
        jobs=[HOSTILE],
        job=HOSTILE,
        problems=[f"ledger x: OperationalError: {HOSTILE}"],
    )
    assert_no_markup_from(html)
    assert field(html, "model") == [HOSTILE]
    assert field(html, "team") == [HOSTILE]
    assert field(html, "problem") == [f"ledger x: OperationalError: {HOSTILE}"]
    assert f"email → {HOSTILE}: {HOSTILE}" in field(html, "delivery")[0]


def test_text_from_the_run_is_shown_as_text_on_its_page():
    hostile_run = agent_run(
        job=HOSTILE,
        error=f"ModelRequestError: {HOSTILE}",
        result={"summary": HOSTILE},
        team="team-berlin",
    )
    transcript = {"events": {HOSTILE: 1}, "tool_calls": {HOSTILE: 2}, "failed_tool_calls": 1}
    html = run_page(hostile_run, artifact_name=HOSTILE, transcript=transcript, files=[(HOSTILE, 12)])
    assert_no_markup_from(html)
    assert field(html, "error") == [f"ModelRequestError: {HOSTILE}"]
    shown = unescape(re.search(r'<pre id="result">(.*?)</pre>', html, re.S).group(1))
    assert json.loads(shown) == {"summary": HOSTILE}  # the RESULT as the model gave it, as text
    assert field(html, "transcript_tools") == [f"Tool calls: {HOSTILE}: 2 (1 failed)"]
    # The file's link quotes the name whole: it cannot add a path segment or a query.
    assert "/files/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22%3E%3Cimg%20src%3Dx" in html


def test_the_artifact_html_given_is_embedded_and_a_missing_one_is_named():
    shown = run_page(agent_run(), artifact_html="<h2>Commits</h2>")
    assert '<div class="artifact" id="artifact"><h2>Commits</h2></div>' in shown
    missing = run_page(agent_run(), artifact_name="insights.md")
    assert "No insights.md in the run folder." in missing and 'id="artifact"' not in missing


def test_the_run_pages_facts_read_its_numbers_and_dashes_for_what_is_unknown():
    html = run_page(
        agent_run(
            iterations=4, prompt_tokens=1200, completion_tokens=300, cost_usd=0.00042, items=7, try_number=2
        )
    )
    assert field(html, "tokens") == ["1200 / 300"]
    assert field(html, "cost") == ["$0.000420"]
    assert field(html, "task") == ["summarize (try 2)"]
    assert field(html, "items") == ["7"] and field(html, "team") == ["—"] and field(html, "model") == ["—"]
    assert field(html, "error") == []  # no error row for a run without one
    unknown = run_page(agent_run(period=None, logical_date=None, items=None))
    assert field(unknown, "period") == ["—"] and field(unknown, "logical_date") == ["—"]
    assert field(unknown, "items") == ["—"]


def test_airflow_links_quote_the_run_id_and_point_a_team_at_its_mapped_instance():
    digest = agent_run(try_number=0)  # never started: the log tab still opens its first try
    assert render.airflow_links("/airflow", digest) == {
        "task_instance": "/airflow/dags/daily_digest/runs/scheduled__2026-11-25T03%3A00%3A00%2B00%3A00"
        "/tasks/summarize/details",
        "log": "/airflow/dags/daily_digest/runs/scheduled__2026-11-25T03%3A00%3A00%2B00%3A00"
        "/tasks/summarize?try_number=1",
    }
    team = agent_run(task_id="team.summarize", map_index=3, run_id="manual/../x", try_number=2)
    links = render.airflow_links("", team)
    assert (
        links["task_instance"]
        == "/dags/daily_digest/runs/manual%2F..%2Fx/tasks/team.summarize/mapped/3/details"
    )
    assert links["log"].endswith("/tasks/team.summarize/mapped/3?try_number=2")
    assert (
        render.run_href("/agentjobs", team)
        == "/agentjobs/runs/daily_digest/manual%2F..%2Fx/team.summarize?map_index=3"
    )


def test_the_chart_scales_each_bar_to_the_largest_day_and_shows_the_numbers():
    html = runs_page(
        usage=[
            DailyUsage(date(2026, 11, 25), "daily_digest", 1000, 0.02, 2),
            DailyUsage(date(2026, 11, 24), "daily_digest", 250, 0.0, 1),
        ]
    )
    widths = [int(w) for w in re.findall(r'<span class="bar" style="width:(\d+)px">', html)]
    cost_widths = [int(w) for w in re.findall(r'<span class="bar cost" style="width:(\d+)px">', html)]
    assert widths == [200, 50] and cost_widths == [200, 0]
    assert field(html, "tokens") == ["1000", "250"] and field(html, "cost") == ["$0.020000", "$0.000000"]


def test_a_chart_of_days_without_tokens_or_cost_draws_empty_bars():
    html = runs_page(usage=[DailyUsage(date(2026, 11, 25), "daily_digest", 0, 0.0, 1)])
    assert re.findall(r'style="width:(\d+)px"', html) == ["0", "0"]


def test_empty_tables_say_so():
    html = runs_page()
    assert "No agent runs match." in html and "No usage recorded." in html and "No job specs found." in html
    assert "<h2>Runs (0)</h2>" in html


def test_the_health_panel_marks_an_overdue_and_a_failing_job():
    healthy = JobHealth("daily_digest", WHEN, WHEN + timedelta(days=1), None, timedelta(days=2), 0)
    behind = JobHealth("weekly_insights", None, WHEN, WHEN - timedelta(hours=5), timedelta(days=14), 3)
    html = runs_page(health=[healthy, behind])
    rows = dict(re.findall(r'<tr data-job="([^"]+)">(.*?)</tr>', html, re.S))
    assert field(rows["daily_digest"], "overdue") == ["no"]
    assert field(rows["daily_digest"], "failure_streak") == ["0"] and "bad" not in rows["daily_digest"]
    assert field(rows["weekly_insights"], "overdue") == ["overdue since 2026-11-24 22:00 UTC"]
    assert field(rows["weekly_insights"], "last_success") == ["—"]
    assert '<span class="bad">3</span>' in rows["weekly_insights"]


def test_the_filter_form_keeps_the_choice_and_the_json_link_carries_only_the_filters_set():
    html = runs_page(jobs=["anomaly_flags", "daily_digest"], job="daily_digest", since=date(2026, 11, 1))
    assert '<option value="daily_digest" selected>' in html and '<option value="anomaly_flags">' in html
    assert 'name="since" value="2026-11-01"' in html and 'name="until" value=""' in html
    assert 'href="/agentjobs/api/runs?job=daily_digest&amp;since=2026-11-01"' in html


def test_a_team_row_links_to_its_own_page_and_the_state_classes_stay_safe():
    html = runs_page([agent_run(task_id="team.summarize", map_index=2, team="team-la", state="up for retry")])
    # Its team too: a chunk's task (fan_out.chunk_size) is a row per team, one map index for them all.
    assert (
        'href="/agentjobs/runs/daily_digest/scheduled__2026-11-25T03%3A00%3A00%2B00%3A00/team.summarize'
        '?map_index=2&amp;team=team-la"' in html
    )
    assert '<span class="state up_for_retry">up for retry</span>' in html
    assert field(html, "contract") == ["pending"] and field(html, "items") == ["—"]


def test_the_login_page_escapes_the_url_it_links_to():
    html = render.login_page('/auth/login?next="><script>x</script>')
    assert "<script" not in html and 'href="/auth/login?next=&quot;&gt;&lt;script&gt;' in html


def test_a_failed_over_run_shows_who_answered_and_each_move_as_text():
    move = {"from": "llm_main", "to": HOSTILE, "model": "m2", "reason": f"server_error: HTTP 503: {HOSTILE}"}
    run = agent_run(model="m2", answered_by=HOSTILE, failovers=[move])
    page = run_page(run)
    assert_no_markup_from(page)
    assert field(page, "answered_by") == [HOSTILE]
    assert field(page, "failover") == [f"llm_main → {HOSTILE}: server_error: HTTP 503: {HOSTILE}"]
    listed = runs_page([run, agent_run(run_id="other", model="m1")])
    assert field(listed, "failed_over") == [f"via {HOSTILE}"]  # only the run that moved

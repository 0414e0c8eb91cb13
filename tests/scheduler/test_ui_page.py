"""The agentjobs UI page on the real api-server, opened in a real headless Chromium.

Runs are made by the scheduler with the scripted model (two delivered days of one job, one run of
another that the model fails), then the page is read through the plugin's mount at /agentjobs:
anonymous requests are refused, and the numbers the browser shows equal what the runs recorded in
XCom and in the delivery ledger. The screenshot goes to $AGENTJOBS_UI_SCREENSHOT (docs/ui-runs.png,
shown on docs/ui-page.md, is made that way), else to the test's temporary folder.

Chromium is Debian's `chromium` driven by Playwright (no browser download); without it the browser
part skips with the reason, unless AGENTJOBS_REQUIRE_SERVICES=1, where it fails.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from agentjobs.delivery.ledger import DeliveryLedger
from tests.fakes.model_server import error
from tests.scheduler.conftest import SchedulerServices, services_required
from tests.scheduler.harness import ADMIN_USER, AirflowCluster
from tests.scheduler.jobs import TODAY, job_spec, logical_date_of, make_sources, unique_id

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(420)]

CHROMIUM = "/usr/bin/chromium"
TEAM = "team@example.org"


def chromium_or_skip() -> Any:
    """Playwright's sync API, once the system Chromium is there; else skip (or fail in CI)."""
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        problem = f"playwright is not installed ({exc}); pip install -e '.[test]'"
    if problem is None and not (Path(CHROMIUM).exists() and shutil.which(CHROMIUM)):
        problem = f"{CHROMIUM} is missing; apt-get install chromium"
    if problem is not None:
        if services_required():
            pytest.fail(f"{problem} (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(problem)
    return sync_playwright


def token(cluster: AirflowCluster) -> str:
    response = httpx.post(
        f"{cluster.base_url}/auth/token",
        json={"username": ADMIN_USER, "password": cluster.password},
        timeout=30,
        trust_env=False,
    )
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def ledger_sent(services: SchedulerServices, job: str, day: str) -> list[tuple[str, str, str]]:
    engine = sa.create_engine(services.ledger_url())
    try:
        history = DeliveryLedger(engine).history(job=job, logical_date=day)
    finally:
        engine.dispose()
    return [(r.channel, r.target, r.status) for r in history]


def test_the_runs_page_shows_what_the_runs_recorded_in_a_real_browser(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    services, api = scheduler_services, airflow_cluster.api
    days = [TODAY - timedelta(days=3), TODAY - timedelta(days=2)]
    email = [{"type": "email", "conn_id": services.smtp_conn_id, "to": [TEAM]}]
    good = job_spec(
        unique_id("ui_digest"), services, make_sources(tmp_path / "good", days), days[0], channels=email
    )
    bad = job_spec(
        unique_id("ui_failing"), services, make_sources(tmp_path / "bad", days[-1:]), days[-1], retries=0
    )
    for spec in (good, bad):
        airflow_cluster.add_job(spec)
    services.reset_model()
    try:
        for spec in (good, bad):
            api.wait_for_dag(spec["dag_id"])
        with airflow_cluster.timed("ui: seed runs"):
            good_runs = [
                api.trigger(good["dag_id"], logical_date=logical_date_of(d))["dag_run_id"] for d in days
            ]
            api.wait_for_runs(good["dag_id"], good_runs, timeout=180)
            services.model.script(error(401, "Incorrect API key provided"))
            bad_run = api.trigger(bad["dag_id"], logical_date=logical_date_of(days[-1]))["dag_run_id"]
            api.wait_for_runs(bad["dag_id"], [bad_run], timeout=120, expect="failed")
    finally:
        services.reset_model()
    base = f"{airflow_cluster.base_url}/agentjobs"

    # The plugin comes from the installed package's entry point (the plugins folder has no copy),
    # once, with its page in the navigation.
    plugins = api.request("GET", "/plugins")["plugins"]
    (plugin,) = [p for p in plugins if p["name"] == "agentjobs_ui"]
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/agentjobs"
    assert plugin["external_views"][0]["href"] == "/agentjobs/"
    assert api.request("GET", "/plugins/importErrors")["import_errors"] == []

    # Anonymous: refused, the API and the page alike; with the api-server's token: let in.
    for path in ("/", "/api/runs", f"/runs/{good['dag_id']}/{good_runs[0]}/summarize"):
        assert httpx.get(base + path, trust_env=False, timeout=30).status_code == 401, path
    jwt = token(airflow_cluster)
    headers = {"Authorization": f"Bearer {jwt}"}
    data = httpx.get(f"{base}/api/runs", headers=headers, trust_env=False, timeout=30).json()
    by_run = {(r["job"], r["run_id"]): r for r in data["runs"]}

    expected: dict[str, dict[str, Any]] = {}
    for run_id in good_runs:
        pushed = api.xcom(good["dag_id"], run_id, "summarize")
        validated = api.xcom(good["dag_id"], run_id, "validate")
        row = by_run[(good["dag_id"], run_id)]
        usage = pushed["usage"]
        assert (row["iterations"], row["prompt_tokens"], row["completion_tokens"]) == (
            usage["iterations"],
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )
        assert row["cost_usd"] == pytest.approx(usage["cost_usd"]) and row["model"] == pushed["model"]
        assert row["contract"] == "passed" and row["items"] == validated["items"]
        sent = ledger_sent(services, good["dag_id"], validated["day"])
        assert sent == [("email", TEAM, "sent")]
        assert [(d["channel"], d["target"], d["status"]) for d in row["deliveries"]] == sent
        expected[run_id] = {**usage, "items": validated["items"]}
    failed = by_run[(bad["dag_id"], bad_run)]
    assert failed["state"] == "failed" and failed["contract"] == "not checked" and failed["deliveries"] == []
    assert "401" in (failed["error"] or "")
    # The failed run's page: the scrubbed error, no artifact, nothing delivered, the planted key absent.
    failed_page = httpx.get(
        f"{base}/runs/{bad['dag_id']}/{bad_run}/summarize", headers=headers, trust_env=False, timeout=30
    )
    assert failed_page.status_code == 200
    assert (
        "Incorrect API key provided" in failed_page.text
        and "No digest.md in the run folder" in failed_page.text
    )
    assert "sk-sched-planted-secret" not in failed_page.text
    (bad_health,) = [h for h in data["health"] if h["job"] == bad["dag_id"]]
    assert bad_health["failure_streak"] == 1 and bad_health["last_success"] is None
    (good_health,) = [h for h in data["health"] if h["job"] == good["dag_id"]]
    assert good_health["last_success"] is not None and good_health["failure_streak"] == 0

    sync_playwright = chromium_or_skip()
    shot = Path(os.environ.get("AGENTJOBS_UI_SCREENSHOT") or tmp_path / "ui-runs.png")
    with airflow_cluster.timed("ui: browser"), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            # The cookie the Airflow UI keeps its login in: the page's requests carry it.
            context.add_cookies([{"name": "_token", "value": jwt, "url": airflow_cluster.base_url}])
            page = context.new_page()
            page.goto(f"{base}/")
            assert page.title() == "agentjobs: agent runs"
            for run_id, want in expected.items():
                row = page.locator(f'tr[data-run^="{good["dag_id"]}|{run_id}|summarize|"]')
                shown = {
                    f: row.locator(f'[data-field="{f}"]').inner_text()
                    for f in ("iterations", "prompt_tokens", "completion_tokens", "cost", "contract", "items")
                }
                assert shown == {
                    "iterations": str(want["iterations"]),
                    "prompt_tokens": str(want["prompt_tokens"]),
                    "completion_tokens": str(want["completion_tokens"]),
                    "cost": f"${want['cost_usd']:.6f}",
                    "contract": "passed",
                    "items": str(want["items"]),
                }
                assert row.locator('[data-field="delivery"]').inner_text().startswith(f"email → {TEAM}: sent")
            failing = page.locator(f'#health tr[data-job="{bad["dag_id"]}"] [data-field="failure_streak"]')
            assert failing.inner_text() == "1"
            # The chart: one bar a day, tokens as recorded.
            for run_id, day in zip(good_runs, days, strict=True):
                logical = logical_date_of(day).date().isoformat()
                bar = page.locator(
                    f'#usage tr[data-day="{logical}"][data-job="{good["dag_id"]}"] [data-field="tokens"]'
                )
                assert bar.inner_text() == str(
                    expected[run_id]["prompt_tokens"] + expected[run_id]["completion_tokens"]
                )
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)

            # A run's page, by its link: the digest rendered, the RESULT, the transcript's counts.
            page.locator(f'tr[data-run^="{good["dag_id"]}|{good_runs[-1]}|summarize|"] a').first.click()
            page.wait_for_load_state()
            assert page.locator("#artifact h2").first.inner_text() == "Commits"
            assert '"items"' in page.locator("#result").inner_text()
            assert "completion: 1" in page.locator('[data-field="transcript_events"]').inner_text()
            log_link = page.get_by_text("task log").get_attribute("href") or ""
            assert log_link.startswith(f"/dags/{good['dag_id']}/runs/") and "/tasks/summarize" in log_link
            page.screenshot(path=str(shot.with_name(shot.stem + "-run.png")), full_page=True)

            # In the Airflow UI: Browse → Agent runs shows the page in a frame, on the same login.
            page.goto(f"{airflow_cluster.base_url}/")
            page.get_by_role("button", name="Browse").click()
            page.get_by_text("Agent runs", exact=True).click()
            page.wait_for_url("**/plugin/agentjobs-runs")
            framed = page.frame_locator("iframe").locator("h1").first
            assert framed.inner_text(timeout=60_000) == "Agent runs"
            page.screenshot(path=str(shot.with_name(shot.stem + "-in-airflow.png")))
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000

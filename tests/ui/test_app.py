"""The agentjobs UI app against a real run: a digest DAG run with dag.test() on the scripted model,
its XComs in the SQLite metadata DB and its delivery in the ledger, read back through the app as the
api-server mounts it (at /agentjobs, registered by agentjobs/ui/plugin.py)."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
import yaml

from tests.airflow.conftest import run_dag, xcom
from tests.scenarios.digest_job import LOGICAL, job  # noqa: F401 (a fixture)
from tests.ui.helpers import PREFIX, admin, client

pytestmark = pytest.mark.airflow


@pytest.fixture
def ran(job, tmp_path, monkeypatch, auth_manager):  # noqa: F811
    """The digest job, written to a jobs folder the app reads, and one run of it delivered by email."""
    from agentjobs.operators.factory import build_dag

    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    spec = job.model_copy(update={"channels": job.channels[:1]})  # email only
    (jobs_dir / f"{spec.dag_id}.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(jobs_dir))
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["deliver_email_0"] == "success"
    return spec, run


def cell(html: str, row_marker: str, field: str) -> str:
    """The text of the `data-field` cell in the table row whose data-run starts with `row_marker`."""
    row = re.search(rf'<tr data-run="{re.escape(row_marker)}[^"]*">(.*?)</tr>', html, re.S)
    assert row, f"no row for {row_marker}"
    found = re.search(rf'data-field="{field}"[^>]*>(.*?)</(td|span)>', row.group(1), re.S)
    assert found, f"no {field} in the row"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def test_anonymous_requests_are_refused_on_every_route(ran, auth_manager):
    spec, run = ran
    http = client()
    run_path = f"{PREFIX}/runs/{spec.dag_id}/{run.run_id}/summarize"
    for path in (
        f"{PREFIX}/",
        f"{PREFIX}/api/runs",
        run_path,
        f"{PREFIX}/api/runs/{spec.dag_id}/{run.run_id}/summarize",
        f"{run_path}/files/digest.md",
    ):
        response = http.get(path)
        assert response.status_code == 401, (path, response.status_code)
        assert "Worth a look" not in response.text and spec.dag_id not in response.text
    # The page says where to log in; a token that is not Airflow's is refused too.
    assert "Log in to Airflow" in http.get(f"{PREFIX}/").text
    assert http.get(f"{PREFIX}/api/runs", headers={"Authorization": "Bearer not-a-token"}).status_code == 403
    # Airflow's own token (as POST /auth/token issues it) is let in, by header or by the UI's cookie.
    token = auth_manager.generate_jwt(admin())
    assert http.get(f"{PREFIX}/api/runs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    http.cookies.set("_token", token)
    assert http.get(f"{PREFIX}/").status_code == 200


def test_the_runs_table_shows_what_the_run_recorded(ran):
    spec, run = ran
    pushed = xcom(run, "summarize")
    usage = pushed["usage"]
    validated = xcom(run, "validate")
    data = client(admin()).get(f"{PREFIX}/api/runs").json()
    (row,) = [r for r in data["runs"] if r["job"] == spec.dag_id]
    assert row["iterations"] == usage["iterations"] == 1
    assert (row["prompt_tokens"], row["completion_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert row["cost_usd"] == pytest.approx(usage["cost_usd"])
    assert row["model"] == pushed["model"] and row["model"]
    assert row["contract"] == "passed" and row["items"] == validated["items"]
    assert row["state"] == "success" and row["period"] == "2026-11-24"
    (delivery,) = row["deliveries"]
    assert (delivery["channel"], delivery["target"], delivery["status"]) == (
        "email",
        "team@example.org",
        "sent",
    )
    (health,) = [h for h in data["health"] if h["job"] == spec.dag_id]
    assert health["last_success"] is not None and health["failure_streak"] == 0 and not health["overdue"]
    (day,) = [u for u in data["usage"] if u["job"] == spec.dag_id]
    assert day["tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    html = client(admin()).get(f"{PREFIX}/").text
    marker = f"{spec.dag_id}|{run.run_id}|summarize|"
    assert cell(html, marker, "prompt_tokens") == str(usage["prompt_tokens"])
    assert cell(html, marker, "completion_tokens") == str(usage["completion_tokens"])
    assert cell(html, marker, "cost") == f"${usage['cost_usd']:.6f}"
    assert cell(html, marker, "contract") == "passed"
    assert cell(html, marker, "items") == str(validated["items"])
    assert "email → team@example.org: sent" in cell(html, marker, "delivery")


def test_filters_by_job_and_date(ran):
    spec, _run = ran
    http = client(admin())
    assert [r["job"] for r in http.get(f"{PREFIX}/api/runs", params={"job": spec.dag_id}).json()["runs"]] == [
        spec.dag_id
    ]
    assert http.get(f"{PREFIX}/api/runs", params={"job": "another_job"}).json()["runs"] == []
    assert http.get(f"{PREFIX}/api/runs", params={"since": "2026-11-26"}).json()["runs"] == []
    inside = http.get(f"{PREFIX}/api/runs", params={"since": "2026-11-25", "until": "2026-11-25"}).json()
    assert [r["job"] for r in inside["runs"]] == [spec.dag_id]
    # The page's form as a browser submits it with nothing chosen: every field there, empty.
    page = http.get(f"{PREFIX}/", params={"job": "", "since": "", "until": ""})
    assert page.status_code == 200 and spec.dag_id in page.text
    bad = http.get(f"{PREFIX}/api/runs", params={"since": "24.11.2026"})
    assert bad.status_code == 422 and "since='24.11.2026' is not a day; use YYYY-MM-DD" in bad.text


def test_the_run_page_renders_the_artifact_result_transcript_and_links(ran):
    spec, run = ran
    http = client(admin())
    html = http.get(f"{PREFIX}/runs/{spec.dag_id}/{run.run_id}/summarize").text
    assert "<h2>Commits</h2>" in html and "Worth a look: item 0" in html  # digest.md as HTML
    assert '"items": ' in unescape(html)  # the RESULT
    assert re.search(r'data-field="transcript_events">Events: .*completion: 1', html)
    quoted_run = run.run_id.replace(":", "%3A").replace("+", "%2B")
    assert f"/dags/{spec.dag_id}/runs/{quoted_run}/tasks/summarize/details" in html
    assert f"/dags/{spec.dag_id}/runs/{quoted_run}/tasks/summarize?try_number=1" in html
    # The digest is served as a download; the transcript and anything outside the folder are not.
    base = f"{PREFIX}/runs/{spec.dag_id}/{run.run_id}/summarize/files"
    digest = http.get(f"{base}/digest.md")
    assert digest.status_code == 200 and digest.text.startswith("# Daily digest")
    assert "sandbox" in digest.headers["content-security-policy"]
    assert http.get(f"{base}/transcript.jsonl").status_code == 404
    assert http.get(f"{base}/..%2F..%2Fledger.db").status_code == 404
    # The tasks' bookkeeping is hidden from the list and refused by name too.
    from agentjobs.jobs.artifacts import DONE_FILE

    folder = Path(xcom(run, "validate")["artifact"]).parent
    (folder / DONE_FILE).write_text('{"done": "nowhere to deliver"}')
    assert http.get(f"{base}/{DONE_FILE}").status_code == 404
    detail = http.get(f"{PREFIX}/api/runs/{spec.dag_id}/{run.run_id}/summarize").json()
    assert detail["transcript"]["events"]["completion"] == 1
    assert "transcript.jsonl" not in [f["name"] for f in detail["files"]]


def test_hostile_artifact_and_result_text_stays_inert(ran):
    spec, run = ran
    folder = Path(xcom(run, "summarize")["artifact"])
    (folder / "digest.md").write_text(
        "# Digest\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2)) "
        '![](https://tracker.example/pixel.gif) <img src=x onerror="alert(3)">\n'
    )
    html = client(admin()).get(f"{PREFIX}/runs/{spec.dag_id}/{run.run_id}/summarize").text
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "javascript:" not in re.findall(r'href="([^"]*)"', html).__str__()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as the text it is
    assert "script-src" not in html  # and the page allows no script anyway:
    response = client(admin()).get(f"{PREFIX}/")
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_a_user_sees_only_the_jobs_the_auth_manager_lets_them_read(ran, monkeypatch):
    from airflow.api_fastapi import app as airflow_app

    spec, run = ran
    manager = airflow_app.get_auth_manager()
    allowed = manager.is_authorized_dag

    def not_this_job(*, method, user, access_entity=None, details=None):
        if details is not None and details.id == spec.dag_id:
            return False
        return allowed(method=method, user=user, access_entity=access_entity, details=details)

    monkeypatch.setattr(manager, "is_authorized_dag", not_this_job)
    http = client(admin())
    assert [r for r in http.get(f"{PREFIX}/api/runs").json()["runs"] if r["job"] == spec.dag_id] == []
    assert spec.dag_id not in http.get(f"{PREFIX}/").text
    assert http.get(f"{PREFIX}/runs/{spec.dag_id}/{run.run_id}/summarize").status_code == 403


def test_a_ledger_that_cannot_be_read_is_said_on_the_page_not_shown_as_no_deliveries(ran, monkeypatch):
    import os

    spec, _run = ran
    broken = spec.model_copy(update={"ledger_conn_id": "no_such_ledger"})
    jobs_dir = Path(os.environ["AGENTJOBS_JOBS_DIR"])
    (jobs_dir / f"{spec.dag_id}.yaml").write_text(yaml.safe_dump(broken.model_dump(mode="json")))
    http = client(admin())
    data = http.get(f"{PREFIX}/api/runs", params={"job": spec.dag_id}).json()
    (row,) = data["runs"]
    assert row["iterations"] == 1 and row["deliveries"] == []  # the XCom part still shows
    assert data["health"] == []
    assert any("'no_such_ledger' does not exist" in p for p in data["problems"]), data["problems"]
    assert any(p.startswith(f"health of {spec.dag_id}:") for p in data["problems"]), data["problems"]
    html = http.get(f"{PREFIX}/", params={"job": spec.dag_id}).text
    assert "no_such_ledger" in unescape(" ".join(re.findall(r'data-field="problem">(.*?)</p>', html)))


def test_an_api_server_that_finds_no_job_specs_says_where_it_looked(ran, tmp_path, monkeypatch):
    empty = tmp_path / "nowhere"
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(empty))
    data = client(admin()).get(f"{PREFIX}/api/runs").json()
    assert data["runs"] == []
    assert data["problems"] == [
        f"no job specs in {empty}: give the api-server the DAG processor's AGENTJOBS_JOBS_DIR"
    ]

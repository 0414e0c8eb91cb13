"""The digest's PII review end to end with dag.test(): personal data that reaches digest.md
blocks every channel and alerts without quoting it; a clean digest is delivered as before."""

from __future__ import annotations

import json

import pytest

from agentjobs.delivery.ledger import DeliveryLedger
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.specs import digest_spec, sqlite_ledger
from tests.scenarios.digest_job import LOGICAL, make_repo, pick_first_refs, states

pytestmark = pytest.mark.airflow

EMAIL = "jane.roe@customer-mail.com"
PHONE = "+44 20 7946 0958"
IBAN = "DE89 3704 0044 0532 0130 00"
LEAKY_SUBJECTS = [
    f"Refund the customer at {IBAN}",
    f"Reply to {EMAIL} or call {PHONE}",
]


def job_spec(tmp_path, monkeypatch, llm_conn, smtp_server, slack_server, subjects, ledger=None, **review):
    repo = make_repo(
        tmp_path / "repo",
        [(f"2026-11-24T{9 + i:02d}:00:00+00:00", subject) for i, subject in enumerate(subjects)],
    )
    return digest_spec(
        "digest_pii",
        llm_conn,
        ledger_conn_id=ledger or sqlite_ledger(monkeypatch, tmp_path),
        sources={"git": {"repos": [str(repo)]}},
        channels=[{"type": "email", "conn_id": smtp_server.conn_id, "to": ["team@example.org"]}],
        alert={"type": "slack", "conn_id": slack_server.api_conn_id, "channel": "C0ALERTS"},
        pii_review={"enabled": True, **review},
    )


def ledger_rows(spec) -> list[tuple[str, str, str]]:
    """(channel, target, status) of every delivery the ledger holds for the digest's day."""
    ledger = DeliveryLedger.from_conn_id(spec.ledger_conn_id)
    try:
        return [
            (r.channel, r.target, r.status)
            for r in ledger.history(job=spec.dag_id, logical_date="2026-11-24")
        ]
    finally:
        ledger.engine.dispose()


def alerts(slack_server) -> list[str]:
    return [r.raw.decode() for r in slack_server.server.calls("/api/chat.postMessage")]


def assert_blocked(run, task, smtp_server, slack_server, quoted):
    assert states(run)[task] == "failed", states(run)
    assert states(run)["deliver_email_0"] == "upstream_failed"
    assert smtp_server.messages == []  # nothing left the building
    (alert,) = alerts(slack_server)
    assert task in alert and "PiiFound" in alert
    for fragment in quoted:
        assert fragment in alert
    for value in (EMAIL, PHONE, IBAN, "7946 0958", "0532 0130", "jane.roe"):
        assert value not in alert


def test_personal_data_in_a_commit_subject_blocks_delivery_and_alerts_without_quoting_it(
    tmp_path, monkeypatch, llm_conn, model_server, smtp_server, slack_server, any_ledger
):
    from agentjobs.operators.factory import build_dag

    model_server.default_step = respond(pick_first_refs)
    spec = job_spec(
        tmp_path, monkeypatch, llm_conn, smtp_server, slack_server, LEAKY_SUBJECTS, ledger=any_ledger
    )
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    # validate passed: the digest is well formed, it only holds what must not go out.
    assert states(run)["validate"] == "success"
    digest = open(xcom(run, "validate")["artifact"]).read()
    assert EMAIL in digest and PHONE in digest and IBAN in digest
    assert_blocked(
        run,
        "pii_review",
        smtp_server,
        slack_server,
        quoted=[
            "email, iban, phone",
            "iban on line 7",
            "email on line 8",
            "phone on line 8",
            "customer-mail.com",
        ],
    )
    # A permanent failure: one try, no retry spent on a digest that would fail the same way.
    ti = next(ti for ti in run.get_task_instances() if ti.task_id == "pii_review")
    assert ti.try_number == 1
    assert ledger_rows(spec) == []  # no delivery was even claimed


def test_a_clean_digest_is_reviewed_and_delivered_as_before(
    tmp_path, monkeypatch, llm_conn, model_server, smtp_server, slack_server, any_ledger
):
    from agentjobs.operators.factory import build_dag

    model_server.default_step = respond(pick_first_refs)
    subjects = ["Add the fetch step", "Bump to v1.2.3 on 2026-11-24, 12 % faster, $1,234.56 saved"]
    spec = job_spec(tmp_path, monkeypatch, llm_conn, smtp_server, slack_server, subjects, ledger=any_ledger)
    dag = build_dag(spec)
    assert dag.get_task("pii_review").upstream_task_ids == {"validate"}
    assert dag.get_task("deliver_email_0").upstream_task_ids == {"pii_review"}
    run = run_dag(dag, logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    assert xcom(run, "pii_review") == xcom(run, "validate")  # passed through unchanged
    (mail,) = smtp_server.messages
    assert "Bump to v1.2.3" in mail.content.decode()
    assert alerts(slack_server) == []
    assert ledger_rows(spec) == [("email", "team@example.org", "sent")]


def test_allowed_addresses_are_delivered(
    tmp_path, monkeypatch, llm_conn, model_server, smtp_server, slack_server
):
    from agentjobs.operators.factory import build_dag

    model_server.default_step = respond(pick_first_refs)
    subjects = ["Docs: write to security@agentjobs.dev for disclosures"]
    spec = job_spec(
        tmp_path, monkeypatch, llm_conn, smtp_server, slack_server, subjects, allow=["agentjobs.dev"]
    )
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    assert len(smtp_server.messages) == 1


def leaks_answer(leaks):
    def answer(request):
        schema = request.body["response_format"]["json_schema"]["schema"]
        if "leaks" not in schema["properties"]:
            return pick_first_refs(request)
        return reply(
            json.dumps({"leaks": leaks, "items": len(leaks)}), prompt_tokens=300, completion_tokens=20
        )

    return answer


def test_the_review_agent_reads_the_numbered_digest_and_its_findings_block_too(
    tmp_path, monkeypatch, llm_conn, model_server, smtp_server, slack_server
):
    """A postal address the detector has no rule for: the agent names the line, delivery stops."""
    from agentjobs.operators.factory import build_dag

    model_server.default_step = respond(leaks_answer([{"line": 7, "kind": "postal_address"}] * 2))
    subjects = ["Ship the order to Jane Roe, 12 Elm Street, Springfield"]
    spec = job_spec(tmp_path, monkeypatch, llm_conn, smtp_server, slack_server, subjects, agent=True)
    dag = build_dag(spec)
    assert dag.get_task("pii_review_agent").upstream_task_ids == {"pii_review"}
    assert dag.get_task("deliver_email_0").upstream_task_ids == {"pii_review_agent"}
    run = run_dag(dag, logical_date=LOGICAL)
    assert states(run)["pii_review"] == "success"
    assert_blocked(
        run,
        "pii_review_agent",
        smtp_server,
        slack_server,
        quoted=["postal_address on line 7", "review agent"],
    )
    assert "12 Elm Street" not in alerts(slack_server)[0]
    review = next(r for r in model_server.requests if "leaks" in json.dumps(r.body["response_format"]))
    prompt = review.body["messages"][-1]["content"]
    assert "review yesterday's digest" in prompt.lower()
    # Read-only: no tools offered, and the answer can name only a line within the digest.
    assert "tools" not in review.body
    schema = review.body["response_format"]["json_schema"]["schema"]
    lines = open(xcom(run, "validate")["artifact"]).read().splitlines()
    assert schema["properties"]["leaks"]["items"]["properties"]["line"]["maximum"] == len(lines)
    assert f"   7: {lines[6]}" in prompt and "12 Elm Street" in lines[6]


def test_the_agent_passes_a_clean_digest(
    tmp_path, monkeypatch, llm_conn, model_server, smtp_server, slack_server
):
    from agentjobs.operators.factory import build_dag

    model_server.default_step = respond(leaks_answer([]))
    spec = job_spec(
        tmp_path, monkeypatch, llm_conn, smtp_server, slack_server, ["Add the fetch step"], agent=True
    )
    run = run_dag(build_dag(spec), logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    assert xcom(run, "pii_review_agent")["result"] == {"leaks": [], "items": 0}
    assert len(smtp_server.messages) == 1


def test_the_dag_is_unchanged_when_the_review_is_off(llm_conn, tmp_path):
    from agentjobs.operators.factory import build_dag

    spec = digest_spec(
        "digest_nopii",
        llm_conn,
        sources={"git": {"repos": [str(tmp_path)]}},
        channels=[{"type": "email", "to": ["team@example.org"]}],
    )
    dag = build_dag(spec)
    assert "pii_review" not in dag.task_ids
    assert dag.get_task("deliver_email_0").upstream_task_ids == {"validate"}

"""Personal data stays home, end to end with dag.test() on the generated business database: the
loopback model gets pseudonyms (`Vendor-2`, `Category-3`) in every request body and the
transcript holds no more, while the delivered artifact (Slack, the mail and the PDF) names the
real vendor; a retry of a failed try replays the paid call, since the tokens are the same."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from agentjobs.jobs.kinds.anomaly_flags import ARTIFACT_FILE
from agentjobs.jobs.kinds.base import TeamSnapshot
from agentjobs.jobs.markdown_text import as_text
from agentjobs.jobs.team_run import snapshot_path
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import error, reply, respond, tool_call
from tests.jobs.business import serving_instant, shipped_spec, team_states
from tests.jobs.specs import sqlite_ledger
from tests.scenarios.test_compliance_report import mails, pdf_text

pytestmark = pytest.mark.airflow

TOKEN = r"[A-Z][A-Za-z]*-\d+"


def personal_values(snapshot: TeamSnapshot, columns: dict[str, set[str]]) -> set[str]:
    """Every value of the marked columns, and the members' names and addresses, as the database holds them."""
    values = {
        str(row[c])
        for table, cs in columns.items()
        for row in snapshot.tables[table]
        for c in cs
        if row.get(c)
    }
    values |= {m.name for m in snapshot.members} | {m.email for m in snapshot.members}
    return values | set(snapshot.team.email_list)


def sent_to_the_model(model_server) -> str:
    return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in model_server.requests)


def assert_none_sent(values: set[str], model_server, transcript: Path) -> None:
    bodies, recorded = sent_to_the_model(model_server), transcript.read_text(encoding="utf-8")
    assert values
    leaked = sorted(v for v in values if v in bodies or v in recorded)
    assert leaked == [], leaked


def test_anomaly_flags_the_model_names_a_token_the_slack_message_the_vendor_and_a_retry_replays(
    llm_conn, business_conn, business_db, model_server, slack_server
):
    from agentjobs.operators.factory import build_dag

    truth = business_db.truth
    duplicate = next(d for d in truth.duplicate_charges if d.day == truth.last_day)
    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": None, "member_preview": False}
    spec = shipped_spec(
        "anomaly-flags.yaml", llm_conn, business_conn, team_delivery=delivery, mode="loop", retries=1
    ).model_copy(update={"retry_delay_s": 0.01})
    seen = {"calls": 0, "token": ""}

    def model(request):
        """Asks flag_details of the duplicate, then names its vendor by the token it was given;
        the second call of the first try fails (a 502), so the task retries."""
        seen["calls"] += 1
        if seen["calls"] == 2:
            return error(502, "bad gateway")
        prompt = request.body["messages"][1]["content"]
        flags = re.findall(r"^- id: (\S+) \| (.*)$", prompt, flags=re.M)
        dup_id, fact = next((i, f) for i, f in flags if duplicate.duplicate_id in f)
        seen["token"] = re.search(rf"Duplicate charge: .+? to ({TOKEN}) in transaction", fact)[1]
        if not any(m["role"] == "tool" for m in request.body["messages"]):
            return tool_call("flag_details", {"id": dup_id}, prompt_tokens=300, completion_tokens=20)
        why = {i: "Check the source system first" for i, _ in flags}
        why[dup_id] = f"Ask {seen['token']} whether it charged twice"
        return reply("RESULT: " + json.dumps({"explanations": why}), prompt_tokens=400, completion_tokens=40)

    model_server.default_step = respond(model)
    run = run_dag(
        build_dag(spec),
        logical_date=serving_instant(spec, duplicate.team_id, duplicate.day),
        run_conf={"teams": [duplicate.team_id]},
    )
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    # Try 1: the tool call (paid), then the 502. Try 2 replays the first call, since its request
    # holds the same tokens, and makes the second live: 3 calls, not 4.
    assert model_server.calls == 3

    work = Path(xcom(run, "team.summarize", map_index=0)["artifact"])
    real = TeamSnapshot.model_validate_json(snapshot_path(work).read_text(encoding="utf-8"))
    vendor = next(r["vendor_name"] for r in real.tables["transactions"] if r["id"] == duplicate.duplicate_id)
    assert_none_sent(
        personal_values(real, {"transactions": {"vendor_name"}}), model_server, work / "transcript.jsonl"
    )
    assert seen["token"] in sent_to_the_model(model_server)

    # What is delivered names the real vendor where the model wrote its token, escaped as source text.
    artifact = (work / ARTIFACT_FILE).read_text(encoding="utf-8")
    assert f"Ask {as_text(vendor)} whether it charged twice" in artifact
    assert seen["token"] not in artifact
    delivered = "\n".join(
        [json.dumps(r.params, ensure_ascii=False) for r in slack_server.server.requests]
        + [b.decode("utf-8", "replace") for b in slack_server.server.uploads.values()]
    )
    assert "whether it charged twice" in delivered and seen["token"] not in delivered


COUNTERPARTY_SQL = (
    "SELECT t.id AS id, t.occurred_at AS occurred_at, t.kind AS kind, "
    "COALESCE(v.name, t.category) AS category, t.amount_cents AS amount_cents, t.currency AS currency "
    "FROM transactions t LEFT JOIN vendors v ON v.id = t.vendor_id "
    "WHERE t.team_id = :team_id AND t.occurred_at >= :start AND t.occurred_at < :end "
    "ORDER BY t.occurred_at, t.id"
)


def test_compliance_report_categories_by_counterparty_marked_personal_reach_the_model_as_tokens(
    llm_conn, business_conn, model_server, smtp_server, monkeypatch, tmp_path
):
    """A company that books by counterparty (a sole trader's name among them) maps its category
    to the vendor and marks it personal in YAML: the model picks statements naming tokens, the
    PDF and the mail name the vendors."""
    from agentjobs.operators.factory import build_dag

    team_id, month_end = "team-tokyo", date(2026, 10, 31)
    spec = shipped_spec(
        "compliance-report.yaml",
        llm_conn,
        business_conn,
        sources={
            "sql": {
                "conn_id": business_conn,
                "inputs": {"transactions": {"sql": COUNTERPARTY_SQL, "personal": ["category"]}},
            }
        },
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    asked: list[str] = []

    def pick(request):
        prompt = request.body["messages"][-1]["content"]
        asked.append(prompt)
        return reply(json.dumps({"summary": ["largest_expense", "net_result"]}), prompt_tokens=300)

    model_server.default_step = respond(pick)
    run = run_dag(build_dag(spec), logical_date=serving_instant(spec, team_id, month_end))
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    assert model_server.calls == 1

    work = Path(xcom(run, "team.summarize", map_index=0)["artifact"])
    real = TeamSnapshot.model_validate_json(snapshot_path(work).read_text(encoding="utf-8"))
    marked = {
        "transactions": {"category"},
        "unpaid_invoices": {"customer_name"},
        "unmatched": {"vendor_name"},
    }
    vendors = {r["category"] for r in real.tables["transactions"] if r["kind"] == "expense"}
    assert any(" " in v for v in vendors)  # vendor names, not the sample's one-word categories
    assert_none_sent(personal_values(real, marked), model_server, work / "transcript.jsonl")
    largest = re.search(
        rf"^- largest_expense: The largest expense category was ({TOKEN}) with", asked[0], re.M
    )
    assert largest, asked[0]

    # The PDF's summary and the mail name the real vendor the token stood for.
    pdf = Path(xcom(run, "team.publish")["report"]["uri"].removeprefix("file://"))
    summary = pdf_text(pdf.read_bytes()).split("Summary\n", 1)[1].split("\nTotals by category", 1)[0]
    top = re.search(r"The largest expense category was (.+?) with", summary.replace("\n", " "))[1]
    assert top in vendors and not re.fullmatch(TOKEN, top)
    (mail,) = mails(smtp_server)
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert f"Expenses, {top}:" in body and largest[1] not in body

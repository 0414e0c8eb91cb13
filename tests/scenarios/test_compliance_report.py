"""compliance_report end to end with dag.test() on the generated business database, SQLite and
PostgreSQL: the PDF's text, read back with pypdf, states the month's totals by category, its unpaid
invoices and unmatched receipts as SQL over the database computes them; it is stored once (a local
folder, or S3 on moto's server), linked in the team's one mail, and a rerun stores and sends nothing."""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.business import serving_instant, shipped_spec, team_states
from tests.jobs.specs import sqlite_ledger

pytestmark = pytest.mark.airflow

TEAM = "team-tokyo"  # JPY (no minor digits), an email list and no Slack channel
MONTH_END = date(2026, 10, 31)
AMOUNT = re.compile(r"(-?)(?:EUR |A\$|[$£¥])([\d,]+(?:\.\d+)?)")


def pick_from_the_data(request):
    """A model that picks the unpaid invoices, then the net result (ids from the prompt's data)."""
    prompt = request.body["messages"][-1]["content"]
    ids = re.findall(r"^- (\w+): ", prompt, flags=re.M)
    assert {"unpaid_invoices", "net_result"} <= set(ids), prompt
    return reply(
        json.dumps({"summary": ["unpaid_invoices", "net_result"]}), prompt_tokens=300, completion_tokens=20
    )


@pytest.fixture
def report_spec(llm_conn, any_business_conn, smtp_server, monkeypatch, tmp_path):
    def make(**settings):
        return shipped_spec(
            "compliance-report.yaml",
            llm_conn,
            any_business_conn,
            team_delivery={
                "slack_conn_id": None,
                "smtp_conn_id": smtp_server.conn_id,
                "member_preview": False,
            },
            ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
            **({"compliance_report": settings} if settings else {}),
        )

    return make


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def minor(text: str, currency: str) -> int:
    """An amount as the PDF writes it (`¥1,234`, `EUR 12.50`) in minor units."""
    sign, digits = AMOUNT.fullmatch(text.strip()).groups()
    value = Decimal(digits.replace(",", "")).scaleb(0 if currency == "JPY" else 2)
    return int(-value if sign else value)


def pdf_figures(text: str, currency: str) -> dict[str, object]:
    lines = text.splitlines()
    by_category = {}
    for line in lines:
        m = re.fullmatch(r"- (Income|Expenses), (\w+): (.+) \(([\d,]+) transactions?\)", line.strip())
        if m:
            kind = "income" if m[1] == "Income" else "expense"
            by_category[(kind, m[2])] = (minor(m[3], currency), int(m[4].replace(",", "")))
    unpaid = re.search(
        r"^Unpaid: ([\d,]+) invoices?, (.+) in all; overdue: ([\d,]+) invoices?, (.+)\.$", text, re.M
    )
    unmatched = re.search(r"no matching transaction: ([\d,]+) receipts?, (.+) in all\.$", text, re.M)
    return {
        "by_category": by_category,
        "unpaid": (int(unpaid[1]), minor(unpaid[2], currency), int(unpaid[3]), minor(unpaid[4], currency)),
        "unmatched": (int(unmatched[1]), minor(unmatched[2], currency)),
    }


def sql_figures(conn_id: str, team_id: str, tz: str, month_end: date) -> dict[str, object]:
    """The month's figures as SQL over the business database computes them, in the team's local month."""
    from agentjobs.sources.sql import connection_engine

    zone = ZoneInfo(tz)
    first = month_end.replace(day=1)
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    end = datetime.combine(
        date(month_end.year + month_end.month // 12, month_end.month % 12 + 1, 1), time(0), zone
    )
    end = end.astimezone(UTC).replace(tzinfo=None)
    binds = {"team": team_id, "start": start, "end": end, "first": first, "last": month_end}
    with connection_engine(conn_id).connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT kind, category, SUM(amount_cents), COUNT(*) FROM transactions WHERE team_id = :team "
                "AND occurred_at >= :start AND occurred_at < :end GROUP BY kind, category"
            ),
            binds,
        ).all()
        unpaid = conn.execute(
            sa.text(
                "SELECT COUNT(*), COALESCE(SUM(amount_cents), 0), "
                "COALESCE(SUM(CASE WHEN due_on <= :last THEN 1 ELSE 0 END), 0), "
                "COALESCE(SUM(CASE WHEN due_on <= :last THEN amount_cents ELSE 0 END), 0) FROM invoices "
                "WHERE team_id = :team AND issued_on <= :last AND (paid_at IS NULL OR paid_at >= :end)"
            ),
            binds,
        ).one()
        unmatched = conn.execute(
            sa.text(
                "SELECT COUNT(*), COALESCE(SUM(amount_cents), 0) FROM receipts WHERE team_id = :team "
                "AND received_on >= :first AND received_on <= :last AND transaction_id IS NULL"
            ),
            binds,
        ).one()
    return {
        "by_category": {(k, c): (int(total), int(n)) for k, c, total, n in rows},
        "unpaid": tuple(int(v) for v in unpaid),
        "unmatched": tuple(int(v) for v in unmatched),
    }


def mails(smtp_server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp_server.messages]


def forget_runs(dag) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()


def test_the_pdf_states_the_months_figures_as_sql_computes_them_and_is_stored_and_sent_once(
    report_spec, any_business_conn, model_server, smtp_server
):
    from agentjobs.operators.factory import build_dag
    from agentjobs.sources.sql import fetch_teams

    spec = report_spec()
    (team,) = [t for t, _ in fetch_teams(any_business_conn) if t.id == TEAM]
    when = serving_instant(spec, TEAM, MONTH_END)
    assert when.astimezone(ZoneInfo(team.timezone)).strftime("%d %H:%M") == "01 06:00"
    model_server.default_step = respond(pick_from_the_data)
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=when)
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    assert xcom(run, "fetch") == [{"team": TEAM, "period": "2026-10-31"}]

    published = xcom(run, "team.publish")
    uri = published["report"]["uri"]
    pdf = Path(urlsplit(uri).path)
    assert uri.startswith("file://") and pdf.name == f"compliance-report-{TEAM}-2026-10.pdf"
    text = pdf_text(pdf.read_bytes())
    found = pdf_figures(text, team.currency)
    expected = sql_figures(any_business_conn, TEAM, team.timezone, MONTH_END)
    assert found == expected
    assert expected["unpaid"][0] > 0 and expected["unmatched"][0] > 0  # the sample has both
    # The model's picks, in its order, are the summary; the footer names the markdown rendered.
    report_md = pdf.parent / "report.md"
    summary = text.split("Summary\n", 1)[1].split("\nTotals by category", 1)[0].replace("\n", " ")
    assert re.match(r"[\d,]+ invoices totalling ¥[\d,]+ were unpaid at month end\. In October 2026", summary)
    assert published["report"]["sha256"] == __import__("hashlib").sha256(pdf.read_bytes()).hexdigest()
    assert __import__("hashlib").sha256(report_md.read_bytes()).hexdigest() in text

    # One mail to the team's list: the figures, and where the PDF is.
    (mail,) = mails(smtp_server)
    assert sorted(smtp_server.messages[0].rcpt_tos) == sorted(team.email_list)
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert uri in body and "Totals by category" in body

    # A clear of the run: no model call, no second store, no second mail, the same PDF.
    calls, stored, mtime = model_server.calls, pdf.read_bytes(), pdf.stat().st_mtime_ns
    forget_runs(dag)
    again = run_dag(dag, logical_date=when)
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert (model_server.calls, len(smtp_server.messages)) == (calls, 1)
    assert pdf.read_bytes() == stored and pdf.stat().st_mtime_ns == mtime
    assert xcom(again, "team.publish")["report"]["written"] is True  # the receipt of the one store


def test_stored_on_s3_once_and_a_different_object_there_is_never_replaced_silently(
    report_spec, s3_server, model_server, smtp_server
):
    from agentjobs.operators.factory import build_dag

    spec = report_spec(storage=f"s3://{s3_server.bucket}/compliance", storage_conn_id=s3_server.conn_id)
    model_server.default_step = respond(pick_from_the_data)
    when = serving_instant(spec, TEAM, MONTH_END)
    key = f"compliance/{TEAM}/compliance-report-{TEAM}-2026-10.pdf"
    client = s3_server.client()

    # Someone else's document under the report's name: the run stores nothing and sends nothing.
    client.put_object(Bucket=s3_server.bucket, Key=key, Body=b"%PDF-1.4 another report")
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=when)
    states = team_states(run)
    assert states[("team.validate", 0)] == "success", states
    assert states[("team.publish", 0)] == "failed", states
    assert states[("team.deliver", 0)] == "upstream_failed", states
    assert client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read() == b"%PDF-1.4 another report"
    assert smtp_server.messages == []

    # Removed: the next run stores the report, and its text is the month's.
    client.delete_object(Bucket=s3_server.bucket, Key=key)
    forget_runs(dag)
    run = run_dag(dag, logical_date=when)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    body = client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read()
    assert xcom(run, "team.publish")["report"]["uri"] == f"s3://{s3_server.bucket}/{key}"
    assert "Unpaid invoices at month end" in pdf_text(body)
    (mail,) = mails(smtp_server)
    assert f"s3://{s3_server.bucket}/{key}" in mail.get_body(preferencelist=("plain",)).get_content()


def test_a_number_the_figures_do_not_support_fails_validation_with_nothing_stored_or_sent(
    report_spec, model_server, smtp_server
):
    from agentjobs.operators.factory import build_dag

    spec = report_spec().model_copy(update={"mode": "loop"})
    narrative = ["Unpaid invoices came to ¥1,234,567 at month end.", "Receipts need matching."]
    model_server.default_step = reply("RESULT: " + json.dumps({"narrative": narrative, "items": 2}))
    run = run_dag(build_dag(spec), logical_date=serving_instant(spec, TEAM, MONTH_END))
    states = team_states(run)
    assert states[("team.summarize", 0)] == "success", states
    assert states[("team.validate", 0)] == "failed", states
    assert states[("team.publish", 0)] == "upstream_failed", states
    assert smtp_server.messages == []
    report = Path(xcom(run, "team.summarize")["artifact"])
    assert "¥1,234,567" in (report / "report.md").read_text()
    assert not list(report.glob("*.pdf"))

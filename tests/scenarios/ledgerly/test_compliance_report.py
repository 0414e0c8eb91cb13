"""compliance_report on Ledgerly, mapped with YAML only: the PDF of the yen and the dinar workspace
states October's totals by category as SQL on the raw tables computes them (signed minor units,
the workspace's local month, its base currency) and as the generator planted them, each amount
written with its currency's exponent (¥ with none, KWD with three). The inbox documents no link
holds are its unmatched receipts, those OCR could not read (no amount, no currency) among them:
listed as "amount unknown", counted, and left out of the sum, which is SQL's on the rows read."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agentjobs.jobs import numbers
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.business import team_states
from tests.jobs.specs import sqlite_ledger
from tests.scenarios.ledgerly.conftest import (
    ledgerly_spec,
    ledgerly_teams,
    query,
    serving_instant,
    workspace,
)
from tests.scenarios.test_compliance_report import pdf_text

pytestmark = pytest.mark.airflow

MONTH = date(2026, 10, 1)
MONTH_END = date(2026, 10, 31)
LINE = re.compile(r"- (Income|Expenses), (\w+): (.+) \(([\d,]+) transactions?\)")
INCOME = ("sales", "services")  # the categories the spec maps to income
UNMATCHED = re.compile(
    r"Received in \w+ \d{4} with no matching transaction: ([\d,]+) receipts?, (.+?) in all"
    r"(?: \(([\d,]+) with amount unknown, not in the sum\))?\."
)
# The month's inbox documents of a workspace that no link holds, in its base currency or in none
# (OCR failed): the compliance report's unmatched receipts.
UNLINKED_SQL = """FROM inbox_documents d JOIN workspaces w ON w.id = d.workspace_id
    WHERE (d.currency = w.base_currency OR d.currency IS NULL)
    AND NOT EXISTS (SELECT 1 FROM document_links k WHERE k.document_id = d.id)"""


def first_two_ids(request):
    """A model that picks the first two statements the prompt offers."""
    prompt = request.body["messages"][-1]["content"]
    ids = re.findall(r"^- (\w+): ", prompt, flags=re.M)[:2]
    return reply(json.dumps({"summary": ids}), prompt_tokens=300, completion_tokens=20)


def written_minor(text: str, currency: str) -> int:
    """An amount as the PDF writes it (`¥1,234`, `1,234.567 KWD`) in minor units of `currency`."""
    m = re.fullmatch(r"(-?)[^\d-]*([\d,]+(?:\.\d+)?)(?: [A-Z]{3})?", text.strip())
    assert m, text
    value = Decimal(m[2].replace(",", "")).scaleb(numbers.currency_decimals(currency))
    assert value == value.to_integral_value(), f"{text}: more digits than {currency} has"
    return int(-value if m[1] else value)


def assert_unmatched_as_sql(text: str, ledgerly_db, ws_id: str, currency: str, month: date) -> list[str]:
    """The PDF's unmatched receipts are SQL's: their count, the sum of the amounts read, and each
    one OCR could not read listed (first) as "amount unknown"; returns those receipts' ids."""
    rows = query(
        ledgerly_db.engine,
        f"""SELECT d.id::text, d.amount_minor {UNLINKED_SQL} AND d.workspace_id = CAST(:ws AS uuid)
        AND date_trunc('month', (d.uploaded_at AT TIME ZONE w.timezone))::date = :month""",
        ws=ws_id,
        month=month,
    )
    unread = sorted(i for i, amount in rows if amount is None)
    flat = " ".join(text.split())
    found = UNMATCHED.search(flat)
    if not rows:
        assert found is None and "Unmatched: none." in flat
        return []
    assert found, flat
    assert int(found[1].replace(",", "")) == len(rows)
    assert written_minor(found[2], currency) == sum(a for _, a in rows if a is not None)
    assert int((found[3] or "0").replace(",", "")) == len(unread)
    for receipt in unread[:10]:  # top_n: the unread ones come first
        assert f"{receipt} unknown vendor: amount unknown" in flat, receipt
    return unread


def sql_by_category(ledgerly_db, ws_id: str, currency: str) -> dict[tuple[str, str], tuple[int, int]]:
    """October's (kind, category) -> (positive total, count) on the raw tables, in local days."""
    rows = query(
        ledgerly_db.engine,
        """SELECT t.category, SUM(t.amount_minor), COUNT(*) FROM transactions t
        JOIN bank_accounts a ON a.id = t.account_id JOIN workspaces w ON w.id = a.workspace_id
        WHERE a.workspace_id = CAST(:ws AS uuid) AND t.currency = :cur AND t.category IS NOT NULL
        AND date_trunc('month', (t.booked_at AT TIME ZONE w.timezone))::date = :month
        GROUP BY t.category""",
        ws=ws_id,
        cur=currency,
        month=MONTH,
    )
    return {
        ("income" if c in INCOME else "expense", c): (int(s) if c in INCOME else -int(s), int(n))
        for c, s, n in rows
    }


@pytest.mark.parametrize(
    ("slug", "currency", "symbol"), [("sakura-design", "JPY", "¥"), ("gulf-freight", "KWD", "KWD")]
)
def test_the_pdf_states_octobers_totals_as_sql_on_the_raw_tables_and_the_truth(
    slug,
    currency,
    symbol,
    ledgerly_db,
    ledgerly_conn,
    llm_conn,
    model_server,
    smtp_server,
    monkeypatch,
    tmp_path,
):
    from agentjobs.operators.factory import build_dag

    spec = ledgerly_spec(
        "compliance-report.yaml",
        llm_conn,
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    team, _members = workspace(spec, slug)
    assert team.currency == currency
    model_server.default_step = respond(first_two_ids)
    run = run_dag(build_dag(spec), logical_date=serving_instant(spec, team, MONTH_END))
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    assert {"team": team.id, "period": "2026-10-31"} in xcom(run, "fetch")

    published = xcom(run, "team.publish")
    reports = published if isinstance(published, list) else [published]
    uri = next(r["report"]["uri"] for r in reports if team.id in r["report"]["uri"])
    text = pdf_text(Path(urlsplit(uri).path).read_bytes())
    found = {}
    for line in text.splitlines():
        m = LINE.fullmatch(line.strip())
        if m:
            assert symbol in m[3], line  # the currency is written, with its own exponent
            kind = "income" if m[1] == "Income" else "expense"
            found[(kind, m[2])] = (written_minor(m[3], currency), int(m[4].replace(",", "")))
    expected = sql_by_category(ledgerly_db, team.id, currency)
    assert found == expected and len(expected) >= 3, expected
    planted = {
        t.category: t.total_minor
        for t in ledgerly_db.truth.monthly_totals
        if (t.workspace_id, t.month, t.currency) == (team.id, MONTH, currency)
    }
    assert {c: total if k == "income" else -total for (k, c), (total, _) in found.items()} == planted
    assert_unmatched_as_sql(text, ledgerly_db, team.id, currency, MONTH)


def test_receipts_ocr_could_not_read_are_listed_counted_and_left_out_of_the_sum(
    ledgerly_db, ledgerly_conn, llm_conn, model_server, smtp_server, monkeypatch, tmp_path
):
    """The workspace and month with the most unmatched receipts whose OCR failed: the report does
    not fail on their NULL amount and currency, and a person reading it sees every one of them."""
    from agentjobs.operators.factory import build_dag

    ((ws_id, month, _n),) = query(
        ledgerly_db.engine,
        f"""SELECT w.id::text, date_trunc('month', (d.uploaded_at AT TIME ZONE w.timezone))::date AS m,
        COUNT(*) AS n {UNLINKED_SQL} AND d.amount_minor IS NULL
        GROUP BY w.id, m ORDER BY n DESC, m, w.id LIMIT 1""",
    )
    spec = ledgerly_spec(
        "compliance-report.yaml",
        llm_conn,
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    team = next(t for t, _ in ledgerly_teams(spec) if t.id == ws_id)
    month_end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    model_server.default_step = respond(first_two_ids)
    run = run_dag(build_dag(spec), logical_date=serving_instant(spec, team, month_end))
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    published = xcom(run, "team.publish")
    reports = published if isinstance(published, list) else [published]
    uri = next(r["report"]["uri"] for r in reports if team.id in r["report"]["uri"])
    text = pdf_text(Path(urlsplit(uri).path).read_bytes())
    assert assert_unmatched_as_sql(text, ledgerly_db, team.id, team.currency, month)


def test_a_hostile_vendor_of_an_unmatched_receipt_is_delivered_as_text(
    ledgerly_db, ledgerly_conn, llm_conn, model_server, smtp_server, monkeypatch, tmp_path
):
    """The OCR read a receipt's vendor as '@here refund **now** ...': the PDF and the mail show it
    as written, no mention, no bold, no markup."""
    from agentjobs.operators.factory import build_dag
    from tests.delivery.inert import assert_inert_html, assert_no_bidi_controls

    ((vendor, uploaded),) = query(
        ledgerly_db.engine,
        """SELECT d.vendor_text, (d.uploaded_at AT TIME ZONE w.timezone)::date FROM inbox_documents d
        JOIN workspaces w ON w.id = d.workspace_id WHERE w.slug = 'nordlicht-roesterei'
        AND d.vendor_text LIKE '@here%' AND NOT EXISTS (SELECT 1 FROM document_links k
        WHERE k.document_id = d.id) AND d.amount_minor IS NOT NULL""",
    )
    spec = ledgerly_spec(
        "compliance-report.yaml",
        llm_conn,
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    team, _members = workspace(spec, "nordlicht-roesterei")
    month_end = date(uploaded.year, uploaded.month + 1, 1) - timedelta(days=1)
    model_server.default_step = respond(first_two_ids)
    run = run_dag(build_dag(spec), logical_date=serving_instant(spec, team, month_end))
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    published = xcom(run, "team.publish")
    text = pdf_text(Path(urlsplit(published["report"]["uri"]).path).read_bytes())
    assert vendor in text.replace("\n", " "), text  # the asterisks as written: not bold
    (message,) = [m for m in smtp_server.messages if team.email_list[0] in m.rcpt_tos]
    parsed = email.message_from_bytes(message.content, policy=email.policy.default)
    html_part = parsed.get_body(preferencelist=("html",))
    assert html_part is not None
    page = html_part.get_content()
    assert_inert_html(page)
    assert "<strong>now</strong>" not in page and "<b>now</b>" not in page
    plain = parsed.get_body(preferencelist=("plain",)).get_content()
    assert_no_bidi_controls(plain)
    assert "refund" in plain and "BRIGHTADS" in plain

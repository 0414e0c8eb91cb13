"""overdue_reminders on Ledgerly, mapped with YAML only: on the data's last day each member with an
address is mailed once, at 09:00 in their own zone (a member zone, the workspace's zone, or the
workspace's for a member whose zone is NULL), listing exactly the open invoices they created that
SQL on the raw tables finds still owed and due within 3 days or overdue; a member without an
address fails nothing."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.airflow.conftest import run_dag
from tests.jobs.business import team_states
from tests.jobs.specs import sqlite_ledger
from tests.scenarios.ledgerly.conftest import ledgerly_spec, query

pytestmark = pytest.mark.airflow

HORIZON = timedelta(days=3)  # the spec's horizon_days
# 00:00 UTC: 09:00 in Tokyo (Sakura's zone); 06:00: 09:00 in Kuwait (Gulf Freight's); 14:00: 09:00
# in New York (a Sakura member's own zone).
HOURS = (0, 6, 14)

OWED = """SELECT i.created_by::text AS member, i.number
    FROM invoices i
    JOIN (SELECT invoice_id, SUM(quantity * unit_price_minor) AS total FROM invoice_lines
          GROUP BY invoice_id) l ON l.invoice_id = i.id
    LEFT JOIN (SELECT invoice_id, SUM(amount_minor) AS paid FROM payment_allocations
               GROUP BY invoice_id) p ON p.invoice_id = i.id
    WHERE i.status = 'open' AND l.total > COALESCE(p.paid, 0) AND i.due_on < :before"""
MEMBERS = """SELECT m.id::text, m.display_name, m.email, m.timezone, w.timezone AS team_zone
    FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id"""


def expected_mails(ledgerly_db, when: datetime) -> tuple[dict[tuple[str, str], set[str]], set[str]]:
    """(address, subject) -> invoice numbers of the members whose local 09:00 is `when`, by SQL on
    the raw tables; and the kinds of zone those members were served in."""
    mails, zones = {}, set()
    for member_id, name, address, zone, team_zone in query(ledgerly_db.engine, MEMBERS):
        local = when.astimezone(ZoneInfo(zone or team_zone))
        if local.hour != 9:
            continue
        before = local.date() + HORIZON
        numbers = {n for m, n in query(ledgerly_db.engine, OWED, before=before) if m == member_id}
        if numbers and address:
            mails[(address, f"Invoices to follow up — {name}, {local.date().isoformat()}")] = numbers
            zones.add("null" if zone is None else "team" if zone == team_zone else "own")
    return mails, zones


def test_each_member_is_mailed_their_owed_invoices_at_their_own_nine(
    ledgerly_db, ledgerly_conn, llm_conn, model_server, smtp_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    spec = ledgerly_spec(
        "overdue-reminders.yaml",
        llm_conn,
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    dag = build_dag(spec)
    day = ledgerly_db.truth.last_day
    served_zones = set()
    every = {n for (n,) in query(ledgerly_db.engine, "SELECT number FROM invoices WHERE number IS NOT NULL")}
    for hour in HOURS:
        when = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)
        before = len(smtp_server.messages)
        run = run_dag(dag, logical_date=when)
        assert set(team_states(run).values()) == {"success"}, (hour, team_states(run))
        expected, zones = expected_mails(ledgerly_db, when)
        served_zones |= zones
        sent = {}
        for m in smtp_server.messages[before:]:
            parsed = email.message_from_bytes(m.content, policy=email.policy.default)
            body = parsed.get_body(preferencelist=("plain", "html")).get_content()
            (to,) = m.rcpt_tos
            key = (to, str(parsed["subject"]))
            assert key not in sent, f"{key} mailed twice"
            sent[key] = {n for n in every if n in body}
        assert sent == expected, hour
    # The three ways a member's 09:00 is found, each with a mail.
    assert served_zones == {"null", "team", "own"}
    assert model_server.calls == 0  # the list is code's

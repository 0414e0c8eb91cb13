"""batch_notifications on Ledgerly, mapped with YAML only (activity_log's actions onto the kind's
categories): an hour of 5-minute runs delivers every event of the lookback and the hour once, in
one mail a window to the workspace's billing address; the counts per category, summed over every
mail, are SQL's on the raw activity_log: nothing lost, nothing doubled."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest

from tests.airflow.conftest import run_dag
from tests.jobs.business import team_states
from tests.jobs.specs import sqlite_ledger
from tests.scenarios.ledgerly.conftest import ledgerly_spec, query
from tests.scenarios.test_batch_notifications import CATEGORY_OF, COUNT_LINE

pytestmark = pytest.mark.airflow

# The action each category is mapped from in the spec (payment.received is left out).
ACTIONS = {
    "transaction.imported": "transaction_created",
    "document.matched": "receipt_matched",
    "payment.allocated": "document_matched",
    "invoice.paid": "invoice_paid",
    "invoice.overdue": "invoice_overdue",
    "invoice.upcoming": "recurring_invoice_upcoming",
}
EVENTS = """SELECT w.billing_email, l.action, COUNT(*) FROM activity_log l
    JOIN workspaces w ON w.id = l.workspace_id
    WHERE w.billing_email IS NOT NULL AND l.action <> 'payment.received'
    AND l.occurred_at >= CAST(:since AS timestamp) AT TIME ZONE 'UTC'
    AND l.occurred_at < CAST(:until AS timestamp) AT TIME ZONE 'UTC'
    GROUP BY 1, 2"""


def test_an_hour_of_runs_delivers_every_event_once(
    ledgerly_db, ledgerly_conn, llm_conn, model_server, smtp_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    spec = ledgerly_spec(
        "batch-notifications.yaml",
        llm_conn,
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    dag = build_dag(spec)
    # On the hour every category's window closes (0, 10, 30 and 60 minutes all divide 60): the
    # first run claims the whole 24-hour lookback, the last one everything before 13:00.
    first = datetime.combine(ledgerly_db.truth.last_day, time(12), tzinfo=UTC)
    last = first + timedelta(hours=1)
    when = first
    while when <= last:
        run = run_dag(dag, logical_date=when)
        assert set(team_states(run).values()) <= {"success", "skipped"}, (when, team_states(run))
        when += timedelta(minutes=5)

    delivered: Counter[tuple[str, str]] = Counter()
    for m in smtp_server.messages:
        parsed = email.message_from_bytes(m.content, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain", "html")).get_content()
        (to,) = m.rcpt_tos
        for n, label in COUNT_LINE.findall(body):
            delivered[(to, CATEGORY_OF[label])] += int(n)
    since, until = (first - timedelta(hours=24)).replace(tzinfo=None), last.replace(tzinfo=None)
    expected = Counter()
    for address, action, n in query(ledgerly_db.engine, EVENTS, since=since, until=until):
        expected[(address, ACTIONS[action])] += n
    assert delivered == expected
    assert len({to for to, _ in expected}) == 3  # every workspace with an address had events
    assert len(smtp_server.messages) > 3  # one mail a window, not one for the whole hour
    assert model_server.calls == 0  # summary: none, the counts are code's

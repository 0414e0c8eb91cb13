"""overdue_reminders and a company's invoices without a due date: its own SQL (the spec's mapped
`sql:`) reads every unpaid invoice, some with `due_on` NULL. Such an invoice is not due, so no
one is reminded of it, but the team is still served (the contract lets the NULL through) and the
run says how many were left out and why: in the team's reminders.md and in the task log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from agentjobs.jobs.kinds.overdue_reminders import INPUTS, KIND
from agentjobs.jobs.kinds.snapshots import team_snapshot
from agentjobs.sources.sql import read_tables, read_teams
from tests.jobs.kinds.test_overdue_reminders import LA, SETTINGS, TOKYO, build_db

TOKYO_NINE = datetime(2026, 11, 2, 0, tzinfo=UTC)  # Mon 2 Nov 09:00 in Tokyo
# How a company reads its unpaid invoices: all of them, due date or not.
OWN_SQL = (
    "SELECT i.id, i.number, i.owner_user_id, i.due_on, i.amount_cents, i.currency, c.name AS customer_name "
    "FROM invoices i LEFT JOIN customers c ON c.id = i.customer_id "
    "WHERE i.team_id = :team_id AND i.status = 'unpaid' AND (i.due_on < :before OR i.due_on IS NULL) "
    "ORDER BY i.due_on, i.id"
)


def without_due_dates(engine: sa.Engine, *ids: str) -> None:
    """The sample's due_on is NOT NULL; a company's may not be: rebuild the table without it."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE invoices_loose AS SELECT * FROM invoices")
        conn.exec_driver_sql("DROP TABLE invoices")
        conn.exec_driver_sql("ALTER TABLE invoices_loose RENAME TO invoices")
        for invoice in ids:
            conn.exec_driver_sql("UPDATE invoices SET due_on = NULL WHERE id = ?", (invoice,))


def snapshot_at(engine: sa.Engine, when: datetime):
    ((team, members),) = read_teams(engine)
    due = KIND.due_members(team, members, when, SETTINGS)
    mapping = {"invoices": SimpleNamespace(sql=OWN_SQL)}
    return team_snapshot(KIND, SETTINGS, team, due, when, lambda q: read_tables(engine, q), mapping)


def test_an_invoice_without_a_due_date_is_not_reminded_and_the_run_says_how_many(caplog) -> None:
    engine = sa.create_engine("sqlite://")
    build_db(engine)
    without_due_dates(engine, "inv-t-far", "inv-t-paid", "inv-l-later")  # Tokyo's unpaid, a paid one, LA's
    snapshot = snapshot_at(engine, TOKYO_NINE)  # no RowContractError: the team is served
    assert [m.id for m in snapshot.members] == [TOKYO]
    with caplog.at_level(logging.WARNING, logger="agentjobs.jobs.kinds.overdue_reminders"):
        plan = KIND.plan(snapshot, SETTINGS, "structured")
    rendered = KIND.render(snapshot, plan.answer or {}, SETTINGS, "T")
    KIND.check(snapshot, rendered.markdown, rendered.result, SETTINGS)
    # Tokyo's list is as before; the invoice without a due date is in no one's reminder.
    message = KIND.member_messages(snapshot, rendered.markdown, SETTINGS)[TOKYO]
    assert "`inv-t-soon`" in message and "`inv-t-overdue`" in message
    assert "inv-t-far" not in message
    assert rendered.result["items"] == 2
    # The team's artifact says it, naming the invoice, for the member served (not LA's, not the paid).
    lines = rendered.markdown.splitlines()
    assert "Not reminded: 1 unpaid invoice without a due date (no day to remind on): `inv-t-far`." in lines
    assert "inv-l-later" not in rendered.markdown and "inv-t-paid" not in rendered.markdown
    assert KIND.preview(rendered.markdown).startswith("1 of 1 member")  # the summary line stays first
    assert [r.getMessage() for r in caplog.records] == [
        "team-pacific: 1 unpaid invoice without a due date is not reminded (no day to remind on): inv-t-far"
    ]


def test_without_such_invoices_the_artifact_and_log_say_nothing_of_them(caplog) -> None:
    engine = sa.create_engine("sqlite://")
    build_db(engine)
    snapshot = snapshot_at(engine, datetime(2026, 11, 1, 17, tzinfo=UTC))  # Los Angeles, 09:00
    assert [m.id for m in snapshot.members] == [LA]
    with caplog.at_level(logging.WARNING, logger="agentjobs.jobs.kinds.overdue_reminders"):
        KIND.plan(snapshot, SETTINGS, "structured")
    assert "Not reminded" not in KIND.render(snapshot, {}, SETTINGS, "T").markdown
    assert not caplog.records


@pytest.mark.parametrize("value", [None, "2026-11-03"])
def test_the_contract_lets_a_null_due_date_through(value) -> None:
    from agentjobs.jobs.inputs import check_rows

    row = {"id": "i", "number": "N", "owner_user_id": TOKYO, "due_on": value, "amount_cents": 1,
           "currency": "USD", "customer_name": None}  # fmt: skip
    check_rows(INPUTS, {"invoices": [row]}, "team-pacific")

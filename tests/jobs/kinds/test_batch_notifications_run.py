"""batch_notifications at run time: the window's counts and its headline, in code (the summary,
the sentence and the check are tested through the kind in test_batch_notifications.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agentjobs.jobs.kinds.base import PeriodRef, Team, TeamSnapshot
from agentjobs.jobs.kinds.batch_notifications_run import WindowPeriod, counts, headline
from agentjobs.jobs.kinds.batch_notifications_settings import Settings

END = datetime(2026, 11, 30, 10, 10, tzinfo=UTC)


def window(*categories: str) -> TeamSnapshot:
    events = [
        {"id": n, "occurred_at": END.isoformat(), "category": c, "record_id": f"rec-{n}"}
        for n, c in enumerate(categories)
    ]
    return TeamSnapshot(
        kind="batch_notifications",
        team=Team(id="team-a", name="Alpha", timezone="Europe/Berlin", currency="EUR"),
        period=PeriodRef(key="2026-11-30T1010Z", start=END - timedelta(hours=24), end=END),
        tables={"events": events},
    )


def test_the_counts_follow_the_labels_order_and_the_headline_sums_each_kind_of_record():
    c = counts(
        window("invoice_overdue", "transaction_created", "invoice_paid", "transaction_created"), Settings()
    )
    # Money moving first, then matching: the labels' order, not the events'.
    assert c.by_category == {"transaction_created": 2, "invoice_paid": 1, "invoice_overdue": 1}
    assert c.by_record == {"transactions": 2, "invoices": 2} and c.total == 4
    assert headline(c) == "You have 4 new records: 2 transactions, 2 invoices."
    # One kind of record: no list after the count.
    assert headline(counts(window("invoice_paid"), Settings())) == "You have 1 new invoice."


def test_a_category_without_a_window_is_not_counted():
    settings = Settings(windows={"invoice_paid": 10})
    assert counts(window("invoice_paid", "receipt_matched"), settings).by_category == {"invoice_paid": 1}


def test_a_windows_period_is_keyed_by_its_end_to_the_minute():
    period = WindowPeriod(day=END.date(), start=END - timedelta(hours=24), end=END)
    assert period.key == "2026-11-30T1010Z"

"""The anomaly detection in code: robust z-scores of the daily metrics and duplicate charges, no model."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agentjobs.jobs.kinds.anomaly_detect import detect, local_day, parse_utc, robust_z
from agentjobs.jobs.kinds.anomaly_settings import AnomalySettings
from tests.jobs.kinds.test_anomaly_flags import DAY, SETTINGS, TZ, calm_orders, expense, history_tables


def test_a_spike_and_a_drop_flag_with_their_numbers() -> None:
    spike = detect(history_tables(today_orders=80), TZ, DAY, SETTINGS)
    ids = [f.id for f in spike.flags]
    assert "orders:2026-11-28" in ids and "order_revenue:2026-11-28" in ids
    orders = spike.by_id()["orders:2026-11-28"]
    assert (orders.value, orders.median, orders.history_days) == (80, 40, 28)
    assert orders.z == pytest.approx(20.0)  # (80 - 40) / max(1.4826 * MAD 1, 5% of 40 = 2)
    drop = detect(history_tables(today_orders=12), TZ, DAY, SETTINGS).by_id()["orders:2026-11-28"]
    assert drop.z < -4 and drop.value == 12


def test_a_steady_history_with_mad_zero_has_a_finite_floored_z() -> None:
    assert robust_z(41, [40] * 20) == (40, pytest.approx(0.5))  # scale floored at 5% of 40 = 2
    assert robust_z(3, [0] * 20) == (0, pytest.approx(3.0))  # and at one unit when the median is 0
    tables = history_tables(today_orders=41, jitter=False)
    assert detect(tables, TZ, DAY, SETTINGS).flags == ()
    flagged = detect(history_tables(today_orders=60, jitter=False), TZ, DAY, SETTINGS).by_id()
    assert flagged["orders:2026-11-28"].z == pytest.approx(10.0)


def test_duplicate_charges_are_same_vendor_same_amount_same_local_day() -> None:
    tables = history_tables()
    tables["transactions"] += [
        expense("tx-a", DAY, 10, 4_900, "ven-9"),
        expense("tx-b", DAY, 15, 4_900, "ven-9"),  # the duplicate: later, same vendor and amount
        expense("tx-c", DAY, 16, 4_900, "ven-8"),  # same amount, another vendor
        expense("tx-d", DAY, 17, 5_000, "ven-9"),  # same vendor, another amount
        expense("tx-e", DAY - timedelta(days=1), 12, 4_900, "ven-9"),  # the day before
        expense("tx-f", DAY, 11, 4_900, "ven-9", kind="income"),  # not an expense
        # 00:30 local on DAY is 23:30 UTC the day before: still DAY for the team.
        expense("tx-g", DAY, 0, 777, "ven-7", minute=30),
        expense("tx-h", DAY, 23, 777, "ven-7", minute=30),
        expense("tx-i", DAY + timedelta(days=1), 0, 4_900, "ven-9", minute=5),  # after DAY, local
    ]
    found = detect(tables, TZ, DAY, SETTINGS)
    dups = {f.id: f for f in found.flags if f.id.startswith("duplicate:")}
    assert set(dups) == {"duplicate:tx-b", "duplicate:tx-h"}
    assert (dups["duplicate:tx-b"].original_id, dups["duplicate:tx-b"].amount_cents) == ("tx-a", 4_900)
    assert dups["duplicate:tx-h"].original_id == "tx-g"
    assert not detect(tables, TZ, DAY, AnomalySettings(duplicate_charges=False)).by_id().get("duplicate:tx-b")


def test_only_the_chosen_metrics_are_judged() -> None:
    tables = history_tables(today_orders=80)
    found = detect(tables, TZ, DAY, AnomalySettings(metrics=["order_revenue"]))
    assert [f.id for f in found.flags] == ["order_revenue:2026-11-28"]


def test_cancelled_orders_are_neither_volume_nor_revenue() -> None:
    tables = history_tables(today_orders=40)
    tables["orders"] += [{**row, "status": "cancelled"} for row in calm_orders(DAY, 60)]
    assert detect(tables, TZ, DAY, SETTINGS).flags == ()
    as_placed = history_tables(today_orders=40)
    as_placed["orders"] += calm_orders(DAY, 60)
    assert {"orders:2026-11-28", "order_revenue:2026-11-28"} <= set(
        detect(as_placed, TZ, DAY, SETTINGS).by_id()
    )


def test_income_counts_as_a_transaction_but_not_as_an_expense() -> None:
    tables = history_tables()
    tables["transactions"] += [
        expense(f"tx-in-{n}", DAY, 12, 50_000, f"cus-{n}", kind="income") for n in range(30)
    ]
    flagged = detect(tables, TZ, DAY, AnomalySettings(duplicate_charges=False)).by_id()
    assert set(flagged) == {"transactions:2026-11-28"}
    assert flagged["transactions:2026-11-28"].value == 36


def test_days_before_the_business_had_any_data_are_not_zero_days() -> None:
    # Eleven days of data in a 28-day window: the seventeen empty days before are no history.
    young = history_tables(days=11, today_orders=200)
    assert detect(young, TZ, DAY, SETTINGS).history_days == 11
    assert detect(young, TZ, DAY, SETTINGS).flags == ()  # under min_history_days: judged not at all
    judged = detect(young, TZ, DAY, AnomalySettings(min_history_days=11)).by_id()
    assert judged["orders:2026-11-28"].history_days == 11 and judged["orders:2026-11-28"].median == 40


def test_a_day_exactly_at_the_threshold_is_flagged_and_just_under_it_is_not() -> None:
    steady = history_tables(today_orders=48, jitter=False)  # (48 - 40) / 2 = z 4.0
    assert "orders:2026-11-28" in detect(steady, TZ, DAY, SETTINGS).by_id()
    assert "orders:2026-11-28" not in detect(steady, TZ, DAY, AnomalySettings(threshold=4.1)).by_id()
    under = history_tables(today_orders=47, jitter=False)  # z 3.5
    assert "orders:2026-11-28" not in detect(under, TZ, DAY, SETTINGS).by_id()


def test_stored_times_without_an_offset_are_utc_and_with_one_are_kept() -> None:
    assert parse_utc("2026-11-28T23:30:00") == datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    assert parse_utc("2026-11-28T23:30:00+01:00") == datetime(2026, 11, 28, 22, 30, tzinfo=UTC)
    assert parse_utc(datetime(2026, 11, 28, 23, 30)).tzinfo is UTC
    # 23:30 UTC is the next local day in Berlin: the day a team member would say.
    assert local_day("2026-11-28T23:30:00", ZoneInfo("Europe/Berlin")) == date(2026, 11, 29)


def test_a_null_amount_still_counts_as_a_transaction_adds_nothing_and_is_no_duplicate() -> None:
    tables = history_tables()
    tables["transactions"] += [
        expense("tx-null-1", DAY, 10, None, "ven-9"),  # type: ignore[arg-type]
        expense("tx-null-2", DAY, 15, None, "ven-9"),  # type: ignore[arg-type]
    ]
    found = detect(tables, TZ, DAY, SETTINGS)
    assert not [f for f in found.flags if f.id.startswith("duplicate:")]
    calm = detect(history_tables(), TZ, DAY, SETTINGS)
    assert {f.id for f in found.flags} == {f.id for f in calm.flags}  # two more of 6 a day: no spike

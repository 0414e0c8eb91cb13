"""The sample business database: deterministic, calm where normal, and every planted pattern is
what its truth file says, checked by SQL against the rows (local days in the team's time zone)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from agentjobs.business import generate as gen_module
from agentjobs.business import schema
from agentjobs.business.generate import UnusableSampleDb, _Generator, ensure_sample_db, generate
from agentjobs.business.schema import EVENT_CATEGORIES, EXPENSE_CATEGORIES, INCOME_CATEGORIES, TABLES
from agentjobs.business.truth import Truth, load_truth, truth_path
from agentjobs.jobs.period import period_of_day
from agentjobs.sources.sql import read_tables
from agentjobs.sources.teams import Query

REPO = Path(__file__).resolve().parents[2]


def _tz(engine: sa.Engine, team_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT timezone FROM teams WHERE id = :t"), {"t": team_id}).scalar_one()


def _local_days(engine: sa.Engine, team_id: str, last: date, days: int = 1) -> dict[str, object]:
    period = period_of_day(last, _tz(engine, team_id), days)
    return {"team_id": team_id, "start": period.start, "end": period.end}


def _category_totals(engine: sa.Engine, team_id: str, week_end: date) -> dict[str, int]:
    query = Query(
        "SELECT category, SUM(amount_cents) AS total FROM transactions "
        "WHERE team_id = :team_id AND occurred_at >= :start AND occurred_at < :end GROUP BY category",
        _local_days(engine, team_id, week_end, 7),
    )
    return {r["category"]: r["total"] for r in read_tables(engine, {"q": query})["q"]}


def _same_day_repeats(engine: sa.Engine, team_id: str, day: date) -> list[dict]:
    query = Query(
        "SELECT vendor_id, amount_cents, COUNT(*) AS n FROM transactions "
        "WHERE team_id = :team_id AND kind = 'expense' AND occurred_at >= :start AND occurred_at < :end "
        "GROUP BY vendor_id, amount_cents HAVING COUNT(*) > 1",
        _local_days(engine, team_id, day),
    )
    return read_tables(engine, {"q": query})["q"]


def _orders_on(engine: sa.Engine, team_id: str, day: date) -> int:
    query = Query(
        "SELECT COUNT(*) AS n FROM orders "
        "WHERE team_id = :team_id AND placed_at >= :start AND placed_at < :end",
        _local_days(engine, team_id, day),
    )
    return read_tables(engine, {"q": query})["q"][0]["n"]


def _team_ids(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT id FROM teams ORDER BY id")).scalars())


def _row_digests(path: Path) -> dict[str, str]:
    engine = sa.create_engine(f"sqlite:///{path}")
    digests = {}
    with engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            digests[table.name] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    engine.dispose()
    return digests


def _local(at_utc: datetime, tz: str) -> datetime:
    return at_utc.replace(tzinfo=UTC).astimezone(ZoneInfo(tz))


# --- determinism and shape ------------------------------------------------------------------


def test_the_same_seed_gives_a_byte_identical_truth_and_identical_rows_in_another_process(
    sample_db, tmp_path
):
    path, _ = sample_db
    other = tmp_path / "again.db"
    # Another interpreter with another string-hash seed: set iteration or hash() would show here.
    code = f"from agentjobs.business.generate import generate; generate({str(other)!r})"
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO, timeout=120)
    assert truth_path(other).read_bytes() == truth_path(path).read_bytes()
    assert _row_digests(other) == _row_digests(path)


def test_another_seed_gives_other_data(sample_db):
    _, truth = sample_db
    other = _Generator(8, truth.last_day).run()
    assert other.seed == 8
    assert other.duplicate_charges != truth.duplicate_charges


def test_the_truth_file_is_beside_the_database_and_holds_the_contract_keys(sample_db):
    path, truth = sample_db
    assert truth_path(path) == path.with_name("business.truth.json")
    data = json.loads(truth_path(path).read_text())
    assert list(data) == [
        "seed",
        "first_day",
        "last_day",
        "weekly_changes",
        "duplicate_charges",
        "order_volume_drops",
        "clean_days",
        "receipt_matches",
    ]
    assert data["seed"] == 7 and data["last_day"] == "2026-11-28"
    assert load_truth(path) == truth
    first = date.fromisoformat(data["first_day"])
    assert first.weekday() == 6 and (truth.last_day - first).days == 7 * 26 - 1  # 26 Sunday-Saturday weeks


def test_row_counts(sqlite_engine):
    with sqlite_engine.connect() as conn:
        count = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in TABLES}
        per_team = conn.execute(sa.text("SELECT team_id, COUNT(*) FROM users GROUP BY team_id")).all()
    assert count["teams"] == 5
    assert all(3 <= n <= 6 for _, n in per_team) and len(per_team) == 5
    assert 15_000 <= count["transactions"] <= 40_000
    assert 30_000 <= count["orders"] <= 45_000
    assert 150 <= count["invoices"] <= 600
    assert 500 <= count["receipts"] <= 3_000
    assert count["events"] >= count["transactions"]
    assert sum(count.values()) > 50_000


def test_teams_users_and_near_duplicate_names(sqlite_engine):
    with sqlite_engine.connect() as conn:
        teams = {r.id: r for r in conn.execute(sa.text("SELECT * FROM teams"))}
        users = conn.execute(
            sa.text("SELECT u.*, t.timezone AS team_tz FROM users u JOIN teams t ON t.id = u.team_id")
        ).all()
        names = {
            table: list(conn.execute(sa.text(f"SELECT team_id, name FROM {table}")))
            for table in ("customers", "vendors")
        }
    assert {t.currency for t in teams.values()} == {"EUR", "JPY", "USD", "AUD", "GBP"}
    assert teams["team-tokyo"].timezone == "Asia/Tokyo" and teams["team-tokyo"].currency == "JPY"
    assert teams["team-tokyo"].email_list and teams["team-berlin"].slack_channel == "#team-berlin"
    for tz in {t.timezone for t in teams.values()} | {u.timezone for u in users}:
        ZoneInfo(tz)
    assert all(re.fullmatch(r"[^@\s]+@example\.(org|com)", u.email) for u in users)
    for team in teams.values():
        for address in (team.email_list or "").split(","):
            assert not address or address.endswith(("@example.org", "@example.com"))
    assert any(u.timezone != u.team_tz for u in users)
    for table, rows in names.items():
        # Near-duplicates: distinct names that are one name once case and punctuation are gone.
        groups = defaultdict(set)
        for team_id, name in rows:
            groups[team_id, re.sub(r"[^a-z]", "", name.lower().split(" ")[0])].add(name)
        assert any(len(v) >= 3 for v in groups.values()), table


def test_some_names_and_descriptions_carry_hostile_text(sqlite_engine):
    hostile = ("<script>", "<!channel>", "@here", "](javascript:")
    with sqlite_engine.connect() as conn:
        descriptions = list(conn.execute(sa.text("SELECT description FROM transactions")).scalars())
        names = list(
            conn.execute(sa.text("SELECT name FROM customers UNION ALL SELECT name FROM vendors")).scalars()
        )
    bad = [d for d in descriptions if any(h in d for h in hostile)]
    assert 3 <= len(bad) <= 100  # a few rows, not the data
    assert any(h in n for n in names for h in hostile)


def test_timestamps_are_utc_of_local_business_hours(sqlite_engine):
    # Transactions happen 08:00-19:00 local: stored in UTC, Tokyo's are mostly before 10:00 UTC.
    rows = read_tables(
        sqlite_engine,
        {"q": Query("SELECT t.occurred_at, m.timezone FROM transactions t JOIN teams m ON m.id = t.team_id")},
    )["q"]
    for row in rows:
        local = _local(datetime.fromisoformat(row["occurred_at"].removesuffix("Z")), row["timezone"])
        assert 8 <= local.hour < 19, row
    assert all(row["occurred_at"].endswith("Z") for row in rows)


def test_amounts_are_positive_integers_and_each_category_belongs_to_its_kind(sqlite_engine):
    with sqlite_engine.connect() as conn:
        kinds = set(conn.execute(sa.text("SELECT DISTINCT kind, category FROM transactions")).all())
        lowest = conn.execute(sa.text("SELECT MIN(amount_cents) FROM transactions")).scalar_one()
        jpy = conn.execute(
            sa.text("SELECT AVG(amount_cents) FROM orders WHERE team_id = 'team-tokyo'")
        ).scalar_one()
        eur = conn.execute(
            sa.text("SELECT AVG(amount_cents) FROM orders WHERE team_id = 'team-berlin'")
        ).scalar_one()
    assert kinds == {("expense", c) for c in EXPENSE_CATEGORIES} | {("income", c) for c in INCOME_CATEGORIES}
    assert lowest > 0
    assert 1.5 < jpy / eur < 2.5  # yen (no minor unit) vs euro cents: ~1.6 x 1.2 team size


# --- planted weekly changes and calm weeks ---------------------------------------------------


def test_each_weekly_change_is_recomputed_from_the_local_weeks_and_is_the_largest_that_week(
    sqlite_engine, sample_db
):
    _, truth = sample_db
    assert any(c.week_end == truth.last_day for c in truth.weekly_changes)
    assert len({c.team_id for c in truth.weekly_changes if c.week_end == truth.last_day}) >= 1
    for change in truth.weekly_changes:
        assert change.week_end.weekday() == 5  # Saturday
        current = _category_totals(sqlite_engine, change.team_id, change.week_end)
        previous = _category_totals(sqlite_engine, change.team_id, change.week_end - timedelta(days=7))
        assert current[change.category] == change.total_cents
        assert previous[change.category] == change.previous_total_cents
        pct = (change.total_cents - change.previous_total_cents) / change.previous_total_cents * 100
        assert change.change_pct == round(pct, 1) and abs(change.change_pct) >= 20
        others = {
            c: abs(current[c] - previous[c]) / previous[c] * 100 for c in current if c != change.category
        }
        assert max(others.values()) < abs(change.change_pct) - 10, others


def test_normal_categories_move_less_than_8_percent_week_on_week(sqlite_engine, sample_db):
    _, truth = sample_db
    planted = {(c.team_id, c.category, c.week_end) for c in truth.weekly_changes}
    weeks = [truth.first_day + timedelta(days=6 + 7 * i) for i in range(26)]
    worst = 0.0
    for team_id in _team_ids(sqlite_engine):
        totals = [_category_totals(sqlite_engine, team_id, w) for w in weeks]
        for (before, after), week_end in zip(itertools.pairwise(totals), weeks[1:], strict=True):
            assert set(after) == set(EXPENSE_CATEGORIES) | set(INCOME_CATEGORIES)
            for category in after:
                if (team_id, category, week_end) in planted:
                    continue
                change = abs(after[category] - before[category]) / before[category] * 100
                worst = max(worst, change)
                assert change < 8, (team_id, category, week_end, change)
    assert worst > 0.5  # the jitter is there: weeks are not copies of each other


# --- duplicate charges, order drops, clean days -----------------------------------------------


def test_duplicate_charges_are_two_rows_of_one_vendor_amount_and_local_day(sqlite_engine, sample_db):
    _, truth = sample_db
    assert any(d.day == truth.last_day for d in truth.duplicate_charges)
    assert any(d.day < truth.last_day - timedelta(days=7) for d in truth.duplicate_charges)
    for dup in truth.duplicate_charges:
        rows = read_tables(
            sqlite_engine,
            {
                "q": Query(
                    "SELECT * FROM transactions WHERE id IN :ids ORDER BY id",
                    {"ids": [dup.original_id, dup.duplicate_id]},
                )
            },
        )["q"]
        assert [r["id"] for r in rows] == [dup.original_id, dup.duplicate_id]
        for row in rows:
            assert (row["team_id"], row["vendor_id"], row["amount_cents"], row["kind"]) == (
                dup.team_id,
                dup.vendor_id,
                dup.amount_cents,
                "expense",
            )
        assert rows[0]["description"] == rows[1]["description"]
        assert _same_day_repeats(sqlite_engine, dup.team_id, dup.day) == [
            {"vendor_id": dup.vendor_id, "amount_cents": dup.amount_cents, "n": 2}
        ]


def test_no_two_transactions_of_a_team_share_a_local_day_and_amount_unless_planted(sqlite_engine, sample_db):
    _, truth = sample_db
    rows = read_tables(
        sqlite_engine,
        {
            "q": Query(
                "SELECT t.id, t.team_id, t.occurred_at, t.amount_cents, m.timezone FROM transactions t "
                "JOIN teams m ON m.id = t.team_id"
            )
        },
    )["q"]
    seen: dict[tuple, list[str]] = defaultdict(list)
    for r in rows:
        day = _local(datetime.fromisoformat(r["occurred_at"].removesuffix("Z")), r["timezone"]).date()
        seen[r["team_id"], day, r["amount_cents"]].append(r["id"])
    repeats = sorted(ids for ids in seen.values() if len(ids) > 1)
    assert repeats == sorted([d.original_id, d.duplicate_id] for d in truth.duplicate_charges)


def test_order_volume_drops_are_counted_in_the_local_day_and_stand_out(sqlite_engine, sample_db):
    _, truth = sample_db
    assert any(d.day == truth.last_day for d in truth.order_volume_drops)
    assert any(d.day < truth.last_day for d in truth.order_volume_drops)
    for drop in truth.order_volume_drops:
        assert _orders_on(sqlite_engine, drop.team_id, drop.day) == drop.orders
        before = [_orders_on(sqlite_engine, drop.team_id, drop.day - timedelta(days=i)) for i in range(1, 29)]
        assert statistics.median_low(before) == drop.typical_orders
        mad = statistics.median(abs(n - statistics.median(before)) for n in before)
        assert (statistics.median(before) - drop.orders) / (1.4826 * max(mad, 1)) > 4


def test_normal_order_days_are_about_40_with_no_weekday_effect(sqlite_engine, sample_db):
    _, truth = sample_db
    drops = {(d.team_id, d.day) for d in truth.order_volume_drops}
    rows = read_tables(
        sqlite_engine,
        {
            "q": Query(
                "SELECT o.team_id, o.placed_at, m.timezone FROM orders o JOIN teams m ON m.id = o.team_id"
            )
        },
    )["q"]
    per_day = Counter(
        (r["team_id"], _local(datetime.fromisoformat(r["placed_at"].removesuffix("Z")), r["timezone"]).date())
        for r in rows
    )
    days = (truth.last_day - truth.first_day).days + 1
    assert len(per_day) == 5 * days  # every local day of every team has orders
    normal = {k: n for k, n in per_day.items() if k not in drops}
    assert all(37 <= n <= 43 for n in normal.values())
    assert all(per_day[k] < 20 for k in drops)
    by_weekday = defaultdict(list)
    for (_, day), n in normal.items():
        by_weekday[day.weekday()].append(n)
    means = [statistics.mean(v) for v in by_weekday.values()]
    assert max(means) - min(means) < 2


def test_clean_days_have_no_repeats_and_normal_orders(sqlite_engine, sample_db):
    _, truth = sample_db
    per_team = Counter(c.team_id for c in truth.clean_days)
    assert set(per_team) == set(_team_ids(sqlite_engine)) and min(per_team.values()) >= 5
    assert any(c.day == truth.last_day - timedelta(days=1) for c in truth.clean_days)
    planted = {(d.team_id, d.day) for d in truth.duplicate_charges} | {
        (d.team_id, d.day) for d in truth.order_volume_drops
    }
    for clean in truth.clean_days:
        assert truth.last_day - timedelta(days=27) <= clean.day <= truth.last_day
        assert (clean.team_id, clean.day) not in planted
        assert _same_day_repeats(sqlite_engine, clean.team_id, clean.day) == []
        assert 37 <= _orders_on(sqlite_engine, clean.team_id, clean.day) <= 43


# --- invoices, receipts, events --------------------------------------------------------------


def test_invoices_paid_unpaid_recurring_and_due_soon(sqlite_engine, sample_db):
    _, truth = sample_db
    end = truth.last_day
    rows = read_tables(
        sqlite_engine, {"q": Query("SELECT i.*, t.timezone FROM invoices i JOIN teams t ON t.id = i.team_id")}
    )["q"]
    for team_id in _team_ids(sqlite_engine):
        mine = [r for r in rows if r["team_id"] == team_id]
        due_soon = [r for r in mine if end < date.fromisoformat(r["due_on"]) <= end + timedelta(days=3)]
        assert any(r["status"] == "unpaid" for r in due_soon), team_id
        assert sum(r["recurring"] is True and r["recurrence"] == "monthly" for r in mine) >= 12
        assert any(r["status"] == "unpaid" and date.fromisoformat(r["due_on"]) < end for r in mine)
    numbers = [r["number"] for r in rows]
    assert len(set(numbers)) == len(numbers)
    for r in rows:
        assert r["status"] in ("paid", "unpaid") and (r["paid_at"] is None) == (r["status"] == "unpaid")
        if r["paid_at"]:
            paid_day = _local(datetime.fromisoformat(r["paid_at"].removesuffix("Z")), r["timezone"]).date()
            assert date.fromisoformat(r["issued_on"]) <= paid_day <= end


def test_receipt_matches_name_expense_transactions_of_the_same_amount(sqlite_engine, sample_db):
    _, truth = sample_db
    tables = read_tables(
        sqlite_engine,
        {
            "receipts": Query("SELECT * FROM receipts"),
            "txns": Query(
                "SELECT t.*, m.timezone FROM transactions t JOIN teams m ON m.id = t.team_id "
                "WHERE kind = 'expense'"
            ),
            "vendors": Query("SELECT id, name FROM vendors"),
        },
    )
    receipts = {r["id"]: r for r in tables["receipts"]}
    txns = {t["id"]: t for t in tables["txns"]}
    truth_of = {m.receipt_id: m.transaction_id for m in truth.receipt_matches}
    for receipt_id, txn_id in truth_of.items():
        receipt, txn = receipts[receipt_id], txns[txn_id]
        assert (receipt["team_id"], receipt["amount_cents"], receipt["currency"]) == (
            txn["team_id"],
            txn["amount_cents"],
            txn["currency"],
        )
        txn_day = _local(datetime.fromisoformat(txn["occurred_at"].removesuffix("Z")), txn["timezone"]).date()
        assert 0 <= (date.fromisoformat(receipt["received_on"]) - txn_day).days <= 3
    linked = {r["id"]: r["transaction_id"] for r in receipts.values() if r["transaction_id"]}
    assert all(truth_of[rid] == tid for rid, tid in linked.items())
    pending = set(truth_of) - set(linked)
    orphans = set(receipts) - set(truth_of)
    assert len(linked) > len(pending) > 20 and len(orphans) >= 10
    assert any(
        receipts[r]["vendor_id"] != txns[truth_of[r]]["vendor_id"] for r in pending
    )  # a near-duplicate
    expense_amounts = {(t["team_id"], t["amount_cents"]) for t in txns.values()}
    assert all((receipts[r]["team_id"], receipts[r]["amount_cents"]) not in expense_amounts for r in orphans)


def test_events_are_a_stream_of_the_contract_categories(sqlite_engine):
    with sqlite_engine.connect() as conn:
        ids = list(conn.execute(sa.text("SELECT id FROM events ORDER BY occurred_at, id")).scalars())
        categories = dict(
            conn.execute(sa.text("SELECT category, COUNT(*) FROM events GROUP BY category")).all()
        )
        txns = conn.execute(sa.text("SELECT COUNT(*) FROM transactions")).scalar_one()
        linked = conn.execute(sa.text("SELECT COUNT(transaction_id) FROM receipts")).scalar_one()
    assert ids == list(range(1, len(ids) + 1))  # ids follow time
    assert set(categories) == set(EVENT_CATEGORIES)
    assert categories["transaction_created"] == txns and categories["receipt_matched"] == linked


# --- writing ---------------------------------------------------------------------------------


def test_a_failed_generation_leaves_the_old_files_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "business.db"
    path.write_bytes(b"old database")

    def broken(target: Path, rows) -> None:
        target.write_bytes(b"half a database")
        raise KeyboardInterrupt  # a killed run

    monkeypatch.setattr(gen_module, "_write_sqlite", broken)
    with pytest.raises(KeyboardInterrupt):
        generate(path)
    assert path.read_bytes() == b"old database"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["business.db"]


def test_ensure_sample_db_generates_only_when_no_file_is_there_and_never_replaces_one(tmp_path, monkeypatch):
    calls = []

    def fake_generate(path: Path, seed: int = 7) -> Truth:
        calls.append(seed)
        path.unlink(missing_ok=True)
        engine = sa.create_engine(f"sqlite:///{path}")
        schema.metadata.create_all(engine)  # today's tables, no rows
        engine.dispose()
        truth_path(path).write_text(
            json.dumps(
                {
                    "seed": seed,
                    "first_day": "2026-01-01",
                    "last_day": "2026-01-02",
                    "weekly_changes": [],
                    "duplicate_charges": [],
                    "order_volume_drops": [],
                    "clean_days": [],
                    "receipt_matches": [],
                }
            )
        )
        return load_truth(path)

    monkeypatch.setattr(gen_module, "generate", fake_generate)
    path = tmp_path / "sub" / "business.db"
    path.parent.mkdir()
    assert ensure_sample_db(path).seed == 7 and calls == [7]
    assert ensure_sample_db(path).seed == 7 and calls == [7]  # reused
    # Another seed asked for: the file there is read as it is (it may be the user's), not replaced.
    assert ensure_sample_db(path, seed=9).seed == 7 and calls == [7]

    truth_path(path).unlink()  # e.g. a run killed between the two files
    with pytest.raises(UnusableSampleDb, match=r"business\.db has no business\.truth\.json beside it"):
        ensure_sample_db(path)
    truth_path(path).write_text("{not json")
    with pytest.raises(UnusableSampleDb, match=r"business\.truth\.json is not a truth file"):
        ensure_sample_db(path)
    fake_generate(path)
    calls.clear()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # a file from before the customers' enrichment columns
        conn.exec_driver_sql("ALTER TABLE customers DROP COLUMN enriched_at")
    engine.dispose()
    before = path.read_bytes()
    with pytest.raises(UnusableSampleDb, match=r"lacks customers\.enriched_at of this version's schema"):
        ensure_sample_db(path)
    assert path.read_bytes() == before
    path.write_bytes(b"not a database")
    with pytest.raises(UnusableSampleDb, match="lacks a readable SQLite schema"):
        ensure_sample_db(path)
    assert calls == [] and path.read_bytes() == b"not a database"

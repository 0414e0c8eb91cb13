"""overdue_reminders without Airflow: who is due at which hour across the US DST change, which
invoices each user's list holds, and a week of hourly runs reminding each invoice once a day."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.jobs.kinds.overdue_reminders import KIND, ReminderSettings, serves_local_hour
from agentjobs.jobs.kinds.snapshots import team_snapshot
from agentjobs.sources.sql import read_tables, read_teams
from tests.delivery.inert import assert_no_bidi_controls
from tests.postgres import built_database

TEAM = "team-pacific"
TOKYO, LA, IDLE = "u-tokyo", "u-la", "u-idle"
HOSTILE_CUSTOMER = "<!channel> *Acme* \u202e[x](javascript:alert(1)) @here"  # with a right-to-left override
HOSTILE_NUMBER = "INV-<script>alert(1)</script>"
# The US leaves daylight saving time on 2026-11-01 at 02:00 local: 09:00 in Los Angeles is 16:00
# UTC before and 17:00 UTC after; 09:00 in Tokyo (no DST) is 00:00 UTC every day.
INVOICES: list[dict[str, Any]] = [
    # id, owner, due_on, status
    {"id": "inv-t-soon", "owner_user_id": TOKYO, "due_on": date(2026, 11, 3), "status": "unpaid"},
    {"id": "inv-t-overdue", "owner_user_id": TOKYO, "due_on": date(2026, 10, 20), "status": "unpaid"},
    {"id": "inv-t-far", "owner_user_id": TOKYO, "due_on": date(2026, 11, 20), "status": "unpaid"},
    {"id": "inv-t-paid", "owner_user_id": TOKYO, "due_on": date(2026, 11, 2), "status": "paid"},
    {"id": "inv-l-soon", "owner_user_id": LA, "due_on": date(2026, 11, 2), "status": "unpaid"},
    {"id": "inv-l-later", "owner_user_id": LA, "due_on": date(2026, 11, 5), "status": "unpaid"},
]
SETTINGS = ReminderSettings()


def build_db(engine: sa.Engine) -> None:
    """One team in Tokyo with a user in Tokyo, one in Los Angeles and one who owns no invoice."""
    from agentjobs.business import schema

    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            schema.teams.insert(),
            [{"id": TEAM, "name": "Pacific *ops*", "timezone": "Asia/Tokyo", "currency": "USD"}],
        )
        conn.execute(
            schema.users.insert(),
            [
                {"id": TOKYO, "team_id": TEAM, "name": "Hanako", "email": "hanako@example.org",
                 "timezone": "Asia/Tokyo"},
                {"id": LA, "team_id": TEAM, "name": "Maria", "email": "maria@example.org",
                 "timezone": "America/Los_Angeles"},
                {"id": IDLE, "team_id": TEAM, "name": "Idle", "email": "idle@example.org",
                 "timezone": "Europe/Berlin"},
            ],
        )  # fmt: skip
        conn.execute(schema.customers.insert(), [{"id": "c-1", "team_id": TEAM, "name": HOSTILE_CUSTOMER}])
        conn.execute(
            schema.invoices.insert(),
            [
                {
                    **row,
                    "team_id": TEAM,
                    "customer_id": "c-1",
                    "number": HOSTILE_NUMBER if row["id"] == "inv-l-soon" else row["id"].upper(),
                    "issued_on": date(2026, 10, 1),
                    "amount_cents": 12_345,
                    "currency": "USD",
                    "paid_at": datetime(2026, 10, 30) if row["status"] == "paid" else None,
                    "recurring": False,
                    "recurrence": None,
                }
                for row in INVOICES
            ],
        )


@pytest.fixture(params=["sqlite", "postgres"])
def reminders_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of the small database, on a SQLite file and in a fresh PostgreSQL database."""
    with built_database(request.param, tmp_path / "reminders.db", "agentjobs_reminders", build_db) as url:
        yield url


def hours(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(hours=n) for n in range(count)]


WEEK = hours(datetime(2026, 10, 29, tzinfo=UTC), 7 * 24)  # Thu .. Wed, over the change on Sun 1 Nov


def test_each_user_is_due_once_a_local_day_at_their_own_nine_across_the_dst_change():
    engine = sa.create_engine("sqlite://")
    build_db(engine)
    ((team, members),) = read_teams(engine)
    served: dict[str, list[datetime]] = {m.id: [] for m in members}
    for when in WEEK:
        for member in KIND.due_members(team, members, when, SETTINGS):
            served[member.id].append(when)
    tokyo = [w.strftime("%m-%d %H") for w in served[TOKYO]]
    la = [w.strftime("%m-%d %H") for w in served[LA]]
    assert tokyo == [f"{d} 00" for d in ("10-29", "10-30", "10-31", "11-01", "11-02", "11-03", "11-04")]
    # 16:00 UTC while Los Angeles is on PDT (UTC-7), 17:00 UTC from Sunday on (PST, UTC-8).
    assert la == ["10-29 16", "10-30 16", "10-31 16", "11-01 17", "11-02 17", "11-03 17", "11-04 17"]
    for member in members:
        days = [KIND.period(team, w, SETTINGS).start.astimezone(UTC) for w in served[member.id]]
        assert len(days) == len(set(days))


def test_the_repeated_and_the_missing_hour_of_a_dst_change_serve_exactly_once():
    fall = hours(datetime(2026, 11, 1, 6, tzinfo=UTC), 6)  # 01:00 PDT and 01:00 PST both in here
    assert [w.hour for w in fall if serves_local_hour("America/Los_Angeles", w, 1)] == [8]
    spring = hours(datetime(2026, 3, 8, 8, tzinfo=UTC), 4)  # 02:00 does not exist: 03:00 PDT serves
    assert [w.hour for w in spring if serves_local_hour("America/Los_Angeles", w, 2)] == [10]


def snapshot_at(engine: sa.Engine, when: datetime):
    ((team, members),) = read_teams(engine)
    due = KIND.due_members(team, members, when, SETTINGS)
    return team_snapshot(KIND, SETTINGS, team, due, when, lambda q: read_tables(engine, q))


def test_a_users_list_is_their_own_unpaid_invoices_due_in_under_three_days_and_the_overdue(reminders_db):
    engine = sa.create_engine(reminders_db)
    tokyo_nine = datetime(2026, 11, 2, 0, tzinfo=UTC)  # Mon 2 Nov 09:00 in Tokyo
    snapshot = snapshot_at(engine, tokyo_nine)
    assert [m.id for m in snapshot.members] == [TOKYO]
    rendered = KIND.render(snapshot, KIND.plan(snapshot, SETTINGS, "structured").answer or {}, SETTINGS, "T")
    KIND.check(snapshot, rendered.markdown, rendered.result, SETTINGS)
    messages = KIND.member_messages(snapshot, rendered.markdown, SETTINGS)
    assert set(messages) == {TOKYO}
    text = messages[TOKYO]
    assert "`inv-t-soon`" in text and "due 2026-11-03 (due in 1 day)" in text
    assert "`inv-t-overdue`" in text and "(overdue by 13 days)" in text
    assert "inv-t-far" not in text  # due in 18 days
    assert "inv-t-paid" not in text  # paid before the run
    assert "inv-l-" not in text  # another user's
    assert rendered.result == {"path": "reminders.md", "items": 2}

    # Los Angeles, Sun 1 Nov 09:00 PST: due today (2 Nov is tomorrow), 5 Nov is 4 days away.
    la_nine = datetime(2026, 11, 1, 17, tzinfo=UTC)
    snapshot = snapshot_at(engine, la_nine)
    rendered = KIND.render(snapshot, {}, SETTINGS, "T")
    text = KIND.member_messages(snapshot, rendered.markdown, SETTINGS)[LA]
    assert "`inv-l-soon`" in text and "(due in 1 day)" in text
    assert "inv-l-later" not in text
    # Hostile text from the database is shown as text: no mention, no link, no tag.
    for raw in ("<!channel>", "<script>", "[x](javascript:", "*Acme*"):
        assert raw not in rendered.markdown and raw not in text
    assert "&lt;!channel&gt;" in text or "&lt;!channel>" in text
    assert_no_bidi_controls(rendered.markdown)
    assert_no_bidi_controls(text)


def test_an_edited_list_fails_the_check():
    from agentjobs.jobs.kinds.base import CheckFailed

    engine = sa.create_engine("sqlite://")
    build_db(engine)
    snapshot = snapshot_at(engine, datetime(2026, 11, 2, 0, tzinfo=UTC))
    rendered = KIND.render(snapshot, {}, SETTINGS, "T")
    dropped = "\n".join(line for line in rendered.markdown.split("\n") if "inv-t-overdue" not in line)
    with pytest.raises(CheckFailed, match="not the list"):
        KIND.check(snapshot, dropped, rendered.result, SETTINGS)
    with pytest.raises(CheckFailed, match="items"):
        KIND.check(snapshot, rendered.markdown, {**rendered.result, "items": 5}, SETTINGS)


def test_a_week_of_hourly_runs_twice_reminds_each_invoice_once_per_user_per_day(reminders_db, tmp_path):
    """Each hour of a week, then the whole week again (a backfill over runs that already sent),
    through the delivery ledger keyed as the deliver task keys it."""
    from agentjobs.delivery import DeliveryLedger, deliver

    engine = sa.create_engine(reminders_db)
    ledger = DeliveryLedger(sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))
    sent: Counter[tuple[str, str, str]] = Counter()
    mails: Counter[tuple[str, str]] = Counter()
    for attempt in ("scheduled", "backfill"):
        for when in WEEK:
            snapshot = snapshot_at(engine, when)
            if not snapshot.members:
                continue
            markdown = KIND.render(snapshot, {}, SETTINGS, "T").markdown
            for member_id, message in KIND.member_messages(snapshot, markdown, SETTINGS).items():
                member = next(m for m in snapshot.members if m.id == member_id)
                day = KIND.member_day(snapshot, member)
                path = tmp_path / f"{member_id}-{when:%m%d%H}.md"
                path.write_text(message)

                def send(member_id=member_id, day=day, message=message) -> dict[str, Any]:
                    mails[(member_id, day)] += 1
                    for invoice in ("inv-t-soon", "inv-t-overdue", "inv-l-soon", "inv-l-later", "inv-t-far"):
                        if f"`{invoice}`" in message:
                            sent[(invoice, member_id, day)] += 1
                    return {"ok": True}

                deliver(
                    ledger=ledger,
                    job=f"overdue_reminders/{TEAM}",
                    logical_date=day,
                    run_id=f"{attempt}__{when.isoformat()}",
                    channel="reminder",
                    target=member.email,
                    artifact=path,
                    force=False,
                    send=send,
                )
    assert set(mails.values()) == {1}, mails
    assert set(sent.values()) == {1}, sent
    # Tokyo every day (its overdue invoice); LA from 31 Oct, when 2 Nov is under 3 days away; never
    # the idle user, who owns no invoice.
    assert sorted(d for m, d in mails if m == TOKYO) == [f"2026-{d}" for d in (
        "10-29", "10-30", "10-31", "11-01", "11-02", "11-03", "11-04")]  # fmt: skip
    assert sorted(d for m, d in mails if m == LA) == ["2026-10-31", "2026-11-01", "2026-11-02",
                                                      "2026-11-03", "2026-11-04"]  # fmt: skip
    assert not any(m == IDLE for m, _ in mails)
    assert ("inv-t-far", TOKYO, "2026-11-04") not in sent


def loosen_users(engine: sa.Engine) -> None:
    """The users table of a company whose import leaves email and time zone NULL (the sample's
    columns are NOT NULL): SQLite rebuilds the table without the constraints, PostgreSQL drops them."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE TABLE users_loose AS SELECT * FROM users")
            conn.exec_driver_sql("DROP TABLE users")
            conn.exec_driver_sql("ALTER TABLE users_loose RENAME TO users")
        else:
            conn.exec_driver_sql("ALTER TABLE users ALTER COLUMN email DROP NOT NULL")
            conn.exec_driver_sql("ALTER TABLE users ALTER COLUMN timezone DROP NOT NULL")


def test_a_member_without_a_time_zone_is_reminded_at_the_teams_nine_and_an_unknown_amount_is_named():
    engine = sa.create_engine("sqlite://")
    build_db(engine)
    loosen_users(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE users SET timezone = NULL WHERE id = ?", (LA,))
        conn.exec_driver_sql("UPDATE users SET email = NULL WHERE id = ?", (TOKYO,))
    tokyo_nine = datetime(2026, 11, 2, 0, tzinfo=UTC)  # Mon 2 Nov 09:00 in Tokyo, the team's zone
    snapshot = snapshot_at(engine, tokyo_nine)
    assert [m.id for m in snapshot.members] == [LA, TOKYO]  # Maria lives in the team's zone now
    invoices = [dict(r) for r in snapshot.tables["invoices"]]
    for row in invoices:
        if row["id"] == "inv-l-soon":
            row["amount_cents"] = None  # an import that lost the amount
        if row["id"] == "inv-l-later":
            row["due_on"] = None  # and one that lost the due date
    snapshot = snapshot.model_copy(update={"tables": {"invoices": invoices}})
    rendered = KIND.render(snapshot, {}, SETTINGS, "T")
    KIND.check(snapshot, rendered.markdown, rendered.result, SETTINGS)
    assert "## Maria (Asia/Tokyo, 2026-11-02)" in rendered.markdown.splitlines()
    assert KIND.member_day(snapshot, snapshot.members[0]) == "2026-11-02"
    text = KIND.member_messages(snapshot, rendered.markdown, SETTINGS)[LA]
    assert "`inv-l-soon`" in text and ": amount unknown, due 2026-11-02 (due today)" in text
    assert "inv-l-later" not in text  # no due date: nothing to remind of

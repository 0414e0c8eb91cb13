"""batch_notifications without Airflow: which categories each 5-minute run closes, the claims
ledger taking every event once (a late one in the next window, a retry re-reading its own claim)
on SQLite and PostgreSQL, and the summary's counts, wording, hostile ids and checked sentence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentjobs.delivery.claims import EventClaims
from agentjobs.jobs.kinds.base import CheckFailed, Member, TeamSnapshot
from agentjobs.jobs.kinds.batch_notifications import KIND, Settings, closing, window_end
from agentjobs.jobs.kinds.snapshots import team_snapshot
from agentjobs.sources.sql import read_tables, read_teams
from tests.delivery.conftest import any_ledger, ledger, pg_ledger  # noqa: F401 (fixtures)
from tests.delivery.inert import assert_no_bidi_controls
from tests.postgres import built_database

TEAM, QUIET = "team-a", "team-b"
HOSTILE_RECORD = "<!channel> \u202e`x` [pay](javascript:alert(1)) @here"  # with a right-to-left override
DAY = datetime(2026, 11, 30, tzinfo=UTC)


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute, second=second)


# id, occurred_at (naive UTC in the table), category, record_id — all of team-a
EVENTS: list[tuple[int, datetime, str, str]] = [
    (1, at(10, 1), "receipt_matched", "rcpt-1"),
    (2, at(10, 2), "transaction_created", "txn-1"),
    (3, at(10, 3), "transaction_created", "txn-2"),
    (4, at(10, 4), "invoice_paid", "inv-1"),
    (5, at(10, 6), "invoice_overdue", "inv-2"),
    (6, at(10, 7), "transaction_created", "txn-3"),
    (7, at(10, 8), "recurring_invoice_upcoming", "inv-3"),
    (8, at(10, 9, 59), "document_matched", HOSTILE_RECORD),
]


def build_db(engine: sa.Engine) -> None:
    """Two teams; team-b never has an event."""
    from agentjobs.business import schema

    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            schema.teams.insert(),
            [
                {"id": TEAM, "name": "Alpha *ops*", "timezone": "Europe/Berlin", "currency": "EUR",
                 "slack_channel": "#team-a"},
                {"id": QUIET, "name": "Quiet", "timezone": "UTC", "currency": "EUR",
                 "slack_channel": "#team-b"},
            ],
        )  # fmt: skip
    add_events(engine, EVENTS)


def add_events(engine: sa.Engine, events: list[tuple[int, datetime, str, str]]) -> None:
    from agentjobs.business import schema

    rows = [
        {"id": i, "team_id": TEAM, "occurred_at": when.replace(tzinfo=None), "category": c, "record_id": r}
        for i, when, c, r in events
    ]
    with engine.begin() as conn:
        conn.execute(schema.events.insert(), rows)


@pytest.fixture(params=["sqlite", "postgres"])
def batch_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of the small database, on a SQLite file and in a fresh PostgreSQL database."""
    with built_database(request.param, tmp_path / "batch.db", "agentjobs_batch", build_db) as url:
        yield url


SETTINGS = Settings()


def test_each_run_closes_the_categories_whose_window_ends_then():
    assert closing(at(10, 5), SETTINGS) == ["receipt_matched", "document_matched"]
    assert closing(at(10, 10), SETTINGS) == [
        "receipt_matched", "document_matched", "transaction_created", "invoice_paid"
    ]  # fmt: skip
    assert "invoice_overdue" in closing(at(10, 30), SETTINGS)
    assert "recurring_invoice_upcoming" not in closing(at(10, 30), SETTINGS)
    assert closing(at(11, 0), SETTINGS) == list(SETTINGS.windows)
    # A manual run at 10:03:27 serves the 10:00 window (already claimed: it re-reads it).
    assert window_end(at(10, 3, 27), SETTINGS) == at(10, 0)


def snapshot_at(url: str, end: datetime, settings: Settings = SETTINGS) -> TeamSnapshot:
    engine = sa.create_engine(url)
    try:
        team, members = next(pair for pair in read_teams(engine) if pair[0].id == TEAM)
        return team_snapshot(KIND, settings, team, members, end, lambda q: read_tables(engine, q))
    finally:
        engine.dispose()


def claim_at(claims: EventClaims, url: str, end: datetime, run_id: str = "run") -> list[int]:
    snapshot = snapshot_at(url, end)
    rows = claims.claim(
        job="batch/team-a",
        window=snapshot.period.key,
        candidates=KIND.claimable(snapshot, SETTINGS),
        run_id=run_id,
    )
    return [int(r["id"]) for r in rows]


def test_every_event_is_claimed_once_a_late_one_by_the_next_window_and_a_retry_rereads_its_claim(
    batch_db,
    any_ledger,  # noqa: F811
):
    claims = EventClaims(any_ledger.engine)
    assert claim_at(claims, batch_db, at(10, 5)) == [1]
    assert claim_at(claims, batch_db, at(10, 10)) == [2, 3, 4, 6, 8]
    # Late: a transaction of 10:05 inserted after the 10:10 window claimed; and a new receipt.
    add_events(sa.create_engine(batch_db), [(9, at(10, 5), "transaction_created", "txn-late"),
                                            (10, at(10, 11), "receipt_matched", "rcpt-2")])  # fmt: skip
    # A retry (or refetch) of 10:10 reads exactly its own claim: not the late one, nothing twice.
    assert claim_at(claims, batch_db, at(10, 10), run_id="retry") == [2, 3, 4, 6, 8]
    assert claim_at(claims, batch_db, at(10, 15)) == [10]  # 10-minute categories stay open
    assert claim_at(claims, batch_db, at(10, 20)) == [9]
    assert claim_at(claims, batch_db, at(10, 30)) == [5]
    assert claim_at(claims, batch_db, at(11, 0)) == [7]
    assert claim_at(claims, batch_db, at(11, 5)) == []
    assert claims.window_of("batch/team-a", 9) == "2026-11-30T1020Z"


def snapshot_of(rows: list[tuple[int, datetime, str, str]], end: datetime | None = None) -> TeamSnapshot:
    engine = sa.create_engine("sqlite://")
    build_db(engine)
    snapshot = team_snapshot(
        KIND, SETTINGS, *read_teams(engine)[0], end or at(10, 10), lambda q: read_tables(engine, q)
    )
    wanted = {i for i, *_ in rows}
    return KIND.with_claimed(snapshot, [r for r in snapshot.tables["candidates"] if r["id"] in wanted])


def test_one_summary_counts_the_window_per_kind_of_record_and_shows_database_text_inert():
    snapshot = snapshot_of([e for e in EVENTS if e[0] in (2, 3, 4, 6, 8)])
    rendered = KIND.render(snapshot, {"summary": ""}, SETTINGS, "New activity")
    lines = rendered.markdown.splitlines()
    assert lines[0] == "# New activity — Alpha \\*ops\\*, 2026-11-30 10:10 UTC"
    assert lines[2] == "You have 5 new records: 3 transactions, 1 invoice, 1 document."
    assert "- 3 new transactions: `txn-1`, `txn-2`, `txn-3`" in lines
    assert "- 1 invoice paid: `inv-1`" in lines
    (hostile,) = [line for line in lines if line.startswith("- 1 document matched")]
    # The id is one code span: no backtick of its own, so no live mention or link can escape it.
    assert hostile == "- 1 document matched: `<!channel> 'x' [pay](javascript:alert(1)) @here`"
    assert_no_bidi_controls(rendered.markdown)
    assert rendered.result == {"items": 5, "summary": ""}
    assert KIND.preview(rendered.markdown) == lines[2]
    KIND.check(snapshot, rendered.markdown, rendered.result, SETTINGS)
    one = KIND.render(snapshot_of([EVENTS[0]], at(10, 5)), {}, SETTINGS, "New activity")
    assert one.markdown.splitlines()[2] == "You have 1 new receipt."


def test_the_models_sentence_is_kept_only_with_the_counts_and_the_check_refuses_another_number():
    settings = Settings(summary="model")
    snapshot = snapshot_of([e for e in EVENTS if e[0] in (2, 3, 4, 6, 8)])
    plan = KIND.plan(snapshot, settings, "structured")
    assert plan.answer is None and "new transactions: 3" in plan.prompt
    good = KIND.render(snapshot, {"summary": "Most of the 5 new records are transactions."}, settings, "T")
    assert good.markdown.splitlines()[4] == "Most of the 5 new records are transactions."
    KIND.check(snapshot, good.markdown, good.result, settings)
    dropped = KIND.render(snapshot, {"summary": "You got 7 new transactions."}, settings, "T")
    assert "7" not in dropped.markdown and dropped.result["summary"] == ""
    KIND.check(snapshot, dropped.markdown, dropped.result, settings)
    # A base model's repetition is cut to its first sentence; a category the window lacks drops it.
    repeated = KIND.render(
        snapshot, {"summary": "Mostly transactions. Mostly transactions. Most"}, settings, "T"
    )
    assert repeated.result["summary"] == "Mostly transactions."
    wrong = KIND.render(snapshot, {"summary": "Most of the new activity is receipts."}, settings, "T")
    assert wrong.result["summary"] == "" and "receipts" not in wrong.markdown
    with pytest.raises(CheckFailed, match="names receipts matched, of which the window has none"):
        KIND.check(snapshot, good.markdown.replace("are transactions", "are receipts"), good.result, settings)
    tampered = good.markdown.replace("the 5 new", "the 6 new")
    with pytest.raises(CheckFailed, match="states '6', which is none of the counts"):
        KIND.check(snapshot, tampered, good.result, settings)
    with pytest.raises(CheckFailed, match="not the counts and records"):
        KIND.check(
            snapshot, good.markdown.replace("3 new transactions", "4 new transactions"), good.result, settings
        )
    # Off (the default): no model call at all.
    assert KIND.plan(snapshot, SETTINGS, "structured").answer == {"summary": ""}


def test_a_sentence_naming_what_the_window_lacks_is_dropped_and_refused():
    settings = Settings(summary="model")
    snapshot = snapshot_of([e for e in EVENTS if e[0] in (2, 3, 4, 6, 8)])
    kept = KIND.render(snapshot, {"summary": "Alpha has mostly New transactions."}, settings, "T")
    assert kept.result["summary"] == "Alpha has mostly New transactions."
    KIND.check(snapshot, kept.markdown, kept.result, settings)
    for invented in ("Most new transactions came from Globex.", "Initech's invoice was paid."):
        dropped = KIND.render(snapshot, {"summary": invented}, settings, "T")
        assert dropped.result["summary"] == "" and invented not in dropped.markdown
    tampered = kept.markdown.replace("Alpha has", "Globex has")
    with pytest.raises(CheckFailed, match="names 'Globex', which is in no row of the window"):
        KIND.check(snapshot, tampered, kept.result, settings)


def test_events_of_a_category_without_a_window_are_counted_for_the_log_not_claimed():
    settings = Settings(windows={"receipt_matched": 0})
    engine = sa.create_engine("sqlite://")
    build_db(engine)
    snapshot = team_snapshot(
        KIND, settings, *read_teams(engine)[0], at(10, 10), lambda q: read_tables(engine, q)
    )
    assert [r["id"] for r in KIND.claimable(snapshot, settings)] == [1]
    assert KIND.unknown_categories(snapshot, settings)["transaction_created"] == 3
    assert snapshot.period.start == at(10, 10) - timedelta(hours=24)


def test_claimed_events_with_uuid_or_text_ids_are_listed_and_integer_ids_in_numeric_order():
    snapshot = snapshot_of([])
    when = "2026-11-30T10:02:00+00:00"  # one instant: the id alone orders them
    uid = "0b8f6c0e-4a4e-4d8e-9a57-1c2f3e4d5a6b"
    claimed = [
        {"id": i, "team_id": TEAM, "occurred_at": when, "category": "transaction_created", "record_id": r}
        for i, r in ((uid, "txn-u"), (10, "txn-10"), (9, "txn-9"))
    ]
    window = KIND.with_claimed(snapshot, claimed)
    rendered = KIND.render(window, {"summary": ""}, SETTINGS, "New activity")
    assert "- 3 new transactions: `txn-9`, `txn-10`, `txn-u`" in rendered.markdown.splitlines()
    KIND.check(window, rendered.markdown, rendered.result, SETTINGS)


def test_an_event_with_no_record_id_is_counted_and_says_so_never_none():
    from agentjobs.jobs.inputs import check_rows

    when = "2026-11-30T10:02:00+00:00"
    claimed = [
        {"id": i, "team_id": TEAM, "occurred_at": when, "category": c, "record_id": r}
        for i, c, r in (
            (1, "transaction_created", "txn-1"),
            (2, "transaction_created", None),  # what a failed import leaves
            (3, "invoice_paid", None),
        )
    ]
    (candidates,) = KIND.inputs  # the events read, before the claim
    check_rows(KIND.inputs, {candidates.name: claimed}, TEAM)  # the team is not failed for it
    window = KIND.with_claimed(snapshot_of([]), claimed)
    rendered = KIND.render(window, {"summary": ""}, SETTINGS, "New activity")
    lines = rendered.markdown.splitlines()
    assert "- 2 new transactions: `txn-1` (1 with no record id)" in lines
    assert "- 1 invoice paid (1 with no record id)" in lines
    assert "None" not in rendered.markdown and rendered.result["items"] == 3
    KIND.check(window, rendered.markdown, rendered.result, SETTINGS)


def test_every_member_gets_the_window_at_its_close_named_in_their_own_zone():
    snapshot = TeamSnapshot.model_validate(
        {
            "kind": KIND.name,
            "team": {"id": TEAM, "name": "Alpha", "timezone": "Europe/Berlin", "currency": "EUR"},
            "period": {
                "key": "2026-11-30T1010Z",
                "start": at(10, 10) - timedelta(hours=24),
                "end": at(10, 10),
            },
            "tables": {},
        }
    )
    members = [
        Member(id=f"u-{n}", name=n, email=f"{n}@example.org", timezone=zone)
        for n, zone in [("priya", "Asia/Kolkata"), ("aroha", "Pacific/Auckland"), ("nozone", None)]
    ]
    # A window closes at one instant everywhere: every member with the team's summary, at once.
    assert KIND.members_due(snapshot.team, members, at(10, 10), Settings()) == members
    assert [KIND.member_stamp(snapshot, m) for m in members] == [
        "2026-11-30 15:40 Asia/Kolkata",
        "2026-11-30 23:10 Pacific/Auckland",
        "2026-11-30 11:10 Europe/Berlin",  # no zone in the users table: the team's
    ]

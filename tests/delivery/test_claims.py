"""The claims ledger on its own: each event in one window of a job, a window's claim read back as it
was taken, and the rows kept as the snapshot (the business database may change after).

tests/jobs/kinds/test_batch_notifications.py runs it through the batching kind's windows; these pin
the ledger's own rules with plain rows, on SQLite and PostgreSQL (the `any_ledger` fixture).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from agentjobs.delivery import claims as claims_module
from agentjobs.delivery.claims import ClaimConflict, EventClaims

JOB = "batch/team-a"  # each test has a ledger of its own (a file, or a schema)


def rows(*ids: int) -> list[dict]:
    return [{"id": i, "team_id": "team-a", "amount": f"{i}.50"} for i in ids]


@pytest.fixture
def claims(any_ledger) -> EventClaims:
    return EventClaims(any_ledger.engine)


def test_a_window_takes_what_no_other_window_has_and_a_retry_reads_its_own_claim(claims):
    name = JOB
    assert claims.claim(job=name, window="w1", candidates=rows(1, 2, 3), run_id="r1") == rows(1, 2, 3)
    # The next window sees 2 and 3 again (still unsent in the business database) and a new 4.
    assert claims.claim(job=name, window="w2", candidates=rows(2, 3, 4), run_id="r2") == rows(4)
    # A retry of w1 with other candidates gets w1's claim, not the candidates.
    assert claims.claim(job=name, window="w1", candidates=rows(9), run_id="r1-retry") == rows(1, 2, 3)
    assert claims.window_of(name, 2) == "w1" and claims.window_of(name, 4) == "w2"
    assert claims.window_of(name, 9) is None


def test_a_window_that_claimed_nothing_stays_empty_on_a_retry(claims):
    name = JOB
    assert claims.claim(job=name, window="w1", candidates=[], run_id="r1") == []
    # Events that arrive after the window closed belong to a later window, not to its retry.
    assert claims.claim(job=name, window="w1", candidates=rows(5), run_id="r1-retry") == []
    assert claims.claim(job=name, window="w2", candidates=rows(5), run_id="r2") == rows(5)


def test_jobs_claim_apart_and_a_repeated_candidate_is_claimed_once(claims):
    name = JOB
    assert claims.claim(job=name, window="w1", candidates=rows(1, 1, 2), run_id="r") == rows(1, 2)
    assert claims.claim(job=f"{name}-b", window="w1", candidates=rows(1), run_id="r") == rows(1)


def test_the_claimed_rows_are_the_snapshot_values_as_json_read_back_in_id_order(claims):
    name = JOB
    taken = [{"id": 3, "day": date(2026, 11, 30), "note": "<b>late</b> ✓"}, {"id": "1", "day": None}]
    assert claims.claim(job=name, window="w1", candidates=taken, run_id="r") == taken  # as given
    # Read back (a retry): dates as their text, the id as the business database gave it.
    assert claims.claim(job=name, window="w1", candidates=[], run_id="r2") == [
        {"day": None, "id": "1"},
        {"day": "2026-11-30", "id": 3, "note": "<b>late</b> ✓"},
    ]


def test_more_candidates_than_one_query_holds_are_all_checked(claims, monkeypatch):
    monkeypatch.setattr(claims_module, "CHUNK", 3)
    name = JOB
    assert len(claims.claim(job=name, window="w1", candidates=rows(*range(1, 11)), run_id="r")) == 10
    # Every one of the ten is found taken, across the chunks: the next window gets only the new one.
    assert claims.claim(job=name, window="w2", candidates=rows(*range(1, 12)), run_id="r") == rows(11)


def test_a_claim_that_keeps_losing_the_race_asks_for_a_retry(claims, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    def lose(*_args, **_kwargs):
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(EventClaims, "_claimed_ids", staticmethod(lose))
    with pytest.raises(ClaimConflict, match="kept conflicting with other runs; retry the task"):
        claims.claim(job=JOB, window="w1", candidates=rows(1), run_id="r")


def test_the_tables_are_made_once_beside_an_existing_ledger(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    first = EventClaims(engine)
    first.claim(job="batch/a", window="w1", candidates=rows(1), run_id="r")
    again = EventClaims(engine)  # a second worker: the tables and the claim stay
    assert again.window_of("batch/a", 1) == "w1"
    assert {claims_module.WINDOW_TABLE, claims_module.CLAIM_TABLE} <= set(
        sa.inspect(engine).get_table_names()
    )
    engine.dispose()


def test_uuid_and_text_ids_are_claimed_once_and_the_same_number_as_int_or_text_is_one_event(claims):
    a, b = "0b8f6c0e-4a4e-4d8e-9a57-1c2f3e4d5a6b", "INV-2026-0042"
    first = [{"id": a, "n": 1}, {"id": b, "n": 2}, {"id": 7, "n": 3}]
    assert claims.claim(job=JOB, window="w1", candidates=first, run_id="r1") == first
    # The next window reads them again (still unsent), with the integer id now given as text.
    again = [{"id": b, "n": 2}, {"id": "7", "n": 3}, {"id": a.upper(), "n": 4}]
    assert claims.claim(job=JOB, window="w2", candidates=again, run_id="r2") == [{"id": a.upper(), "n": 4}]
    assert claims.window_of(JOB, a) == "w1" and claims.window_of(JOB, "7") == "w1"
    assert claims.window_of(JOB, 7) == "w1"


def test_a_retry_reads_integer_ids_back_in_numeric_order_and_text_ids_after(claims):
    taken = [{"id": "b-2"}, {"id": 10}, {"id": "a-1"}, {"id": 9}, {"id": 100}]
    claims.claim(job=JOB, window="w1", candidates=taken, run_id="r")
    reread = claims.claim(job=JOB, window="w1", candidates=[], run_id="r2")
    assert [r["id"] for r in reread] == [9, 10, 100, "a-1", "b-2"]


def _released_claim_table(engine: sa.Engine) -> None:
    """The claim table as the released code made it: event ids as BIGINT."""
    old = sa.MetaData()
    table = sa.Table(
        claims_module.CLAIM_TABLE,
        old,
        sa.Column("job", sa.String(250), primary_key=True),
        sa.Column("event_id", sa.BigInteger, primary_key=True),
        sa.Column("window_key", sa.String(32), nullable=False),
        sa.Column("row_json", sa.Text, nullable=False),
        sa.Index("ix_agentjobs_event_claim_window", "job", "window_key"),
    )
    windows = sa.Table(
        claims_module.WINDOW_TABLE,
        old,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(250), nullable=False),
        sa.Column("window_key", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("job", "window_key", name="uq_agentjobs_event_window"),
    )
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            windows.insert().values(
                job=JOB, window_key="w1", run_id="r", events=2, claimed_at=datetime.now(UTC)
            )
        )
        conn.execute(
            table.insert(),
            [
                {"job": JOB, "event_id": 10, "window_key": "w1", "row_json": '{"id": 10}'},
                {"job": JOB, "event_id": 9, "window_key": "w1", "row_json": '{"id": 9}'},
            ],
        )


def test_a_claim_table_made_by_the_released_code_keeps_its_claims_and_takes_uuids(any_ledger):
    engine = any_ledger.engine
    _released_claim_table(engine)
    claims = EventClaims(engine)  # the first open migrates event_id to text
    assert claims.window_of(JOB, 9) == "w1" and claims.window_of(JOB, "10") == "w1"
    # Its windows read back as before, and the claimed events stay claimed.
    assert claims.claim(job=JOB, window="w1", candidates=[], run_id="retry") == [{"id": 9}, {"id": 10}]
    uid = "5f0c2d7e-8a61-4b0f-9a0e-2b7c3d4e5f60"
    fresh = claims.claim(job=JOB, window="w2", candidates=[{"id": 9}, {"id": uid}], run_id="r2")
    assert fresh == [{"id": uid}]
    columns = sa.inspect(engine).get_columns(claims_module.CLAIM_TABLE)
    column = next(c for c in columns if c["name"] == "event_id")
    assert not isinstance(column["type"], sa.Integer)
    assert EventClaims(engine).window_of(JOB, uid) == "w2"  # a second open leaves it as it is

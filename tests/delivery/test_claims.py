"""The claims ledger on its own: each event in one window of a job, a window's claim read back as it
was taken, and the rows kept as the snapshot (the business database may change after).

tests/jobs/kinds/test_batch_notifications.py runs it through the batching kind's windows; these pin
the ledger's own rules with plain rows, on SQLite and PostgreSQL (the `any_ledger` fixture).
"""

from __future__ import annotations

from datetime import date

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

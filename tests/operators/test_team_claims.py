"""The claim step of a batching kind's fetch: a window's snapshot is made of the events it claimed
in the ledger database (the same ones on a retry, none another window took), no snapshot when it
claimed none, and the rows no window takes named in a warning that database text cannot bend."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentjobs.jobs.kinds.base import PeriodRef, TeamSnapshot
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.team_claims import claim_snapshot, claims_kind
from agentjobs.sources.teams import Team

LOG = logging.getLogger("test_team_claims")


class Batching:
    """The claiming side of a kind like batch_notifications: the `events` rows of known
    categories are claimable; the snapshot of a window holds only its claimed rows."""

    name = "batching"
    known = ("invoice", "payment")

    def claimable(self, snapshot: TeamSnapshot, settings: Any) -> list[dict[str, Any]]:
        return [row for row in snapshot.tables["events"] if row["category"] in self.known]

    def with_claimed(self, snapshot: TeamSnapshot, claimed: list[dict[str, Any]]) -> TeamSnapshot:
        return snapshot.model_copy(update={"tables": {"events": claimed}})

    def unknown_categories(self, snapshot: TeamSnapshot, settings: Any) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in snapshot.tables["events"]:
            if row["category"] not in self.known:
                counts[row["category"]] = counts.get(row["category"], 0) + 1
        return counts


class NotBatching:
    name = "plain"


@pytest.fixture
def spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> JobSpec:
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_CLAIMS", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    )
    return JobSpec.model_validate(
        {
            "dag_id": "batched",
            "title": "Batched",
            "start_date": "2026-11-01",
            "skill": "daily-digest",
            "sources": {"rss": {"feeds": ["feed.xml"]}},
            "ledger_conn_id": "ledger_claims",
        }
    )


def window(end: str, events: list[dict[str, Any]], team: str = "t1") -> TeamSnapshot:
    stop = datetime.fromisoformat(end)
    return TeamSnapshot(
        kind="batching",
        team=Team(id=team, name=team, timezone="UTC", currency="EUR"),
        period=PeriodRef(key=stop.strftime("%Y-%m-%dT%H%MZ"), start=stop - timedelta(minutes=10), end=stop),
        tables={"events": events},
    )


def event(n: int, category: str = "invoice") -> dict[str, Any]:
    return {"id": n, "category": category}


def ids(snapshot: TeamSnapshot | None) -> list[int] | None:
    return None if snapshot is None else [row["id"] for row in snapshot.tables["events"]]


def test_only_kinds_that_batch_events_claim():
    assert claims_kind(Batching()) and not claims_kind(NotBatching())


def test_a_window_holds_the_events_it_claimed_and_a_retry_gets_the_same_ones(spec):
    kind = Batching()
    first = window("2026-11-25T10:10:00+00:00", [event(1), event(2)])
    assert ids(claim_snapshot(kind, None, first, spec, "run-1010", LOG)) == [1, 2]
    # A retry (or refetch) of 10:10 that now reads a late event too: its claim, nothing more.
    retried = window("2026-11-25T10:10:00+00:00", [event(1), event(2), event(3)])
    assert ids(claim_snapshot(kind, None, retried, spec, "run-1010-retry", LOG)) == [1, 2]
    # The next window takes the late one only: no event is notified twice.
    later = window("2026-11-25T10:20:00+00:00", [event(2), event(3)])
    assert ids(claim_snapshot(kind, None, later, spec, "run-1020", LOG)) == [3]
    # Another team's events are its own, whatever their ids.
    other = window("2026-11-25T10:20:00+00:00", [event(1)], team="t2")
    assert ids(claim_snapshot(kind, None, other, spec, "run-1020", LOG)) == [1]


def test_a_window_that_claims_nothing_has_no_snapshot_and_stays_empty(spec):
    kind = Batching()
    assert claim_snapshot(kind, None, window("2026-11-25T10:10:00+00:00", []), spec, "r", LOG) is None
    late = window("2026-11-25T10:10:00+00:00", [event(7)])
    assert claim_snapshot(kind, None, late, spec, "r-retry", LOG) is None  # its claim was of none


def test_events_no_window_takes_are_named_in_a_warning_cut_short_and_quoted(spec, caplog):
    hostile = "refund\n[ALERT] all clear" + "x" * 100
    events = [event(1), event(2, "refund"), event(3, "refund"), event(4, hostile)]
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        claimed = claim_snapshot(
            Batching(), None, window("2026-11-25T10:10:00+00:00", events), spec, "r", LOG
        )
    assert ids(claimed) == [1]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("t1: events of categories with no window are not notified ('refund': 2, ")
    assert repr(hostile[:40]) + ": 1" in warning and "\n" not in warning and "x" * 41 not in warning
    assert warning.endswith("add them to the spec's batching.windows")

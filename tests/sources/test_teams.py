"""sources/teams.py: `utc_naive`, the one conversion of a moment to the business tables' naive UTC
that the `sql` source's binds and the kinds' query windows share. (The Team and Member rows and
their delivery targets are exercised in tests/jobs/test_team_targets.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agentjobs.sources.teams import utc_naive


@pytest.fixture
def machine_in_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone far from UTC, as on a worker whose TZ is not set to UTC."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_aware_moment_becomes_the_same_instant_in_naive_utc():
    berlin_midnight = datetime(2026, 11, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert utc_naive(berlin_midnight) == datetime(2026, 11, 29, 23, 0)
    summer = datetime(2026, 7, 1, tzinfo=ZoneInfo("Europe/Berlin"))  # CEST, two hours ahead
    assert utc_naive(summer) == datetime(2026, 6, 30, 22, 0)
    assert utc_naive(datetime(2026, 11, 30, 5, 30, tzinfo=UTC)).tzinfo is None


def test_a_naive_moment_is_taken_as_utc_already_whatever_the_machines_zone(machine_in_tokyo):
    # `astimezone` would read it as Tokyo time and move it nine hours back.
    assert utc_naive(datetime(2026, 11, 30, 8, 5)) == datetime(2026, 11, 30, 8, 5)

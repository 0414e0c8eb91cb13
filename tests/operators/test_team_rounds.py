"""A chunk's teams in threads: a team waiting long for the rate limiter gives its thread to the
next team and runs again after its wait; when every team left waits long, the chunk is told so
(to defer) instead of sleeping."""

from __future__ import annotations

import threading
import time

import pytest

from agentjobs.operators.team_rounds import AllWaiting, Parked, run_teams


def test_a_waiting_team_gives_its_thread_to_the_next_team_and_runs_again_after_its_wait():
    calls: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def work(team: str, parked_before: bool) -> str:
        with lock:
            calls.append((team, parked_before))
        if team == "t1" and not parked_before:
            raise Parked(0.2)
        return f"{team} done"

    started = time.monotonic()
    results = run_teams(["t1", "t2", "t3"], work, threads=1, defer_from_s=5.0)
    assert results == {"t1": "t1 done", "t2": "t2 done", "t3": "t3 done"}
    assert list(results) == ["t1", "t2", "t3"]  # the teams' order, whoever finished first
    # One thread: t2 and t3 ran while t1 waited, then t1 again, knowing it had waited.
    assert calls == [("t1", False), ("t2", False), ("t3", False), ("t1", True)]
    assert time.monotonic() - started >= 0.2


def test_when_every_team_left_waits_long_the_chunk_is_told_how_long_instead_of_sleeping():
    def work(team: str, parked_before: bool) -> str:
        if team == "t2":
            return "t2 done"
        raise Parked(30.0 if team == "t1" else 12.0)

    started = time.monotonic()
    with pytest.raises(AllWaiting) as waiting:
        run_teams(["t1", "t2", "t3"], work, threads=2, defer_from_s=5.0)
    assert time.monotonic() - started < 5  # nothing slept the wait
    assert waiting.value.waiting == ["t1", "t3"]
    assert 11.0 < waiting.value.wait_s <= 12.0  # the soonest wait: the chunk comes back for t3


def test_a_wait_shorter_than_the_deferral_threshold_or_with_no_threshold_is_slept():
    seen: dict[str, int] = {}

    def work(team: str, parked_before: bool) -> str:
        seen[team] = seen.get(team, 0) + 1
        if not parked_before:
            raise Parked(0.1)
        return team

    assert run_teams(["t1", "t2"], work, threads=2, defer_from_s=5.0) == {"t1": "t1", "t2": "t2"}
    assert run_teams(["t3"], work, threads=1, defer_from_s=None) == {"t3": "t3"}
    assert seen == {"t1": 2, "t2": 2, "t3": 2}


def test_a_team_that_fails_outside_its_work_fails_the_chunk():
    def work(team: str, parked_before: bool) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_teams(["t1"], work, threads=1, defer_from_s=5.0)

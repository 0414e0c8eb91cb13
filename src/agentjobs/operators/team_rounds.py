"""How a chunk task runs its teams: `threads` at once, and a team that must wait long for the
connection's rate limiter is set aside rather than left sleeping in its thread.

A team's agent that would wait at least the chunk's `defer_waits_from_s` raises `Parked` instead
(the per-team task would defer to the triggerer there). Its thread then takes the next team, and
the parked team runs again once its wait is over, replaying its paid calls from the task state
store. When every team not done is parked (no call in flight, no team ready), the chunk itself
can defer: `AllWaiting` says for how long, and the task resumes from the triggerer, each team's
calls replayed. A thread cannot be parked in the triggerer while another thread's call is in
flight, so the chunk defers only when all of its teams wait; the rest of the time waits cost a
parked entry, not a thread.
"""

from __future__ import annotations

import contextvars
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")


class Parked(Exception):
    """A team waits `wait_s` seconds for the rate limiter before it can go on."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"waits {wait_s:.1f} s for the rate limiter")
        self.wait_s = wait_s


class AllWaiting(Exception):
    """Every team of the chunk not done waits at least `wait_s` seconds: the chunk may defer."""

    def __init__(self, wait_s: float, waiting: list[str]) -> None:
        super().__init__(f"{len(waiting)} team(s) wait {wait_s:.1f} s or more for the rate limiter")
        self.wait_s = wait_s
        self.waiting = waiting


def run_teams(
    teams: list[str],
    work: Callable[[str, bool], T],
    threads: int,
    defer_from_s: float | None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, T]:
    """`work(team, parked_before)` for each team, `threads` at once; each team's result, in the
    teams' order. `work` raises Parked to be run again after its wait (`parked_before` then True).
    Raises AllWaiting when every team left is parked for at least `defer_from_s` (None: never)."""
    results: dict[str, T] = {}
    ready: deque[str] = deque(teams)
    parked: dict[str, float] = {}  # team -> when its wait is over (clock)
    set_aside: set[str] = set()
    running: dict[Future[T], str] = {}
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        while len(results) < len(teams):
            now = clock()
            for team in [t for t, wake in parked.items() if wake <= now]:
                del parked[team]
                ready.append(team)
            while ready and len(running) < max(1, threads):
                team = ready.popleft()
                # Each thread its own copy of the context variables (the run-file scratch base).
                running[pool.submit(contextvars.copy_context().run, work, team, team in set_aside)] = team
            if running:
                timeout = max(0.0, min(parked.values()) - now) if parked else None
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    team = running.pop(future)
                    try:
                        results[team] = future.result()
                    except Parked as waits:
                        parked[team] = clock() + waits.wait_s
                        set_aside.add(team)
                continue
            # No call in flight and no team ready: every team left waits for the limiter.
            wait_s = min(parked.values()) - now
            if defer_from_s is not None and wait_s >= defer_from_s:
                raise AllWaiting(wait_s, sorted(parked))
            sleep(max(0.0, wait_s))
    return {team: results[team] for team in teams}

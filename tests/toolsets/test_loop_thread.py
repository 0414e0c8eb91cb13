"""A private event loop thread: sync callers get a coroutine's result or a timeout, inside
another running loop too, and stop() ends the thread with its pending tasks cancelled."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agentjobs.toolsets.loop_thread import LoopThread


async def double(n: int) -> int:
    await asyncio.sleep(0)
    return 2 * n


def test_results_come_back_and_a_slow_coroutine_times_out():
    loop = LoopThread("test-loop")
    try:
        assert loop.run(double(21), 5) == 42
        with pytest.raises(TimeoutError, match=r"no answer within 0\.2 s"):
            loop.run(asyncio.sleep(30), 0.2)
        assert loop.run(double(1), 5) == 2, "the loop serves on after a timeout"
    finally:
        loop.stop()


def test_it_works_from_inside_a_running_event_loop():
    async def caller() -> int:
        loop = LoopThread("test-nested")
        try:
            return loop.run(double(5), 5)  # asyncio.run would refuse here
        finally:
            loop.stop()

    assert asyncio.run(caller()) == 10


def test_stop_cancels_what_still_runs_and_ends_the_thread():
    loop = LoopThread("test-stop")
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    pending = loop.submit(forever())
    loop.stop()
    assert cancelled.is_set() and pending.cancelled()
    assert not loop.alive
    assert "test-stop" not in [t.name for t in threading.enumerate()]
    with pytest.raises(RuntimeError, match="has stopped"):
        loop.run(double(1), 1)
    loop.stop()  # twice: no error

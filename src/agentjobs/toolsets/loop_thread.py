"""An asyncio event loop on a thread of its own, so sync code can drive an async client.

The agent loop is synchronous and an Airflow task may already run inside an event loop of its
own (a triggerer, a test), where `asyncio.run` refuses to start. A private loop on a daemon
thread serves both: `run` hands it a coroutine and waits for the result with a timeout. The
loop lives as long as the resource it serves (one MCP session) and `stop` ends it: the tasks
still pending are cancelled and given `grace_s` to unwind before the thread is let go.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """One event loop running on one daemon thread, from construction until `stop`."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coro` as a task of the loop; its future resolves on the caller's side."""
        if not self.alive:
            coro.close()  # never awaited: closed here so Python does not warn about it
            raise RuntimeError("the event loop thread has stopped")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """`coro`'s result, or TimeoutError after `timeout_s` (the task is then cancelled)."""
        future = self.submit(coro)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout_s:g} s") from None

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def stop(self, grace_s: float = 5.0) -> None:
        """Cancel what still runs, stop the loop and wait up to `grace_s` for its thread."""
        if not self.alive:
            return
        try:
            self.run(_cancel_others(), grace_s)
        except (TimeoutError, RuntimeError):
            pass  # a task that ignores cancellation: the loop stops under it all the same
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(grace_s)


async def _cancel_others() -> None:
    me = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not me]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)

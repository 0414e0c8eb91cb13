"""What a task instance has spent across its tries, and the model answers it paid for,
kept in Airflow's task state store.

The budget bounds the whole task instance: a retry starts from what the failed tries
spent. A clear from the UI starts a fresh budget: Airflow sets `max_tries` to
`try_number + retries` on a clear, so `max_tries - retries + 1` (the first try of the
current clear, the same sum Airflow uses for reschedules) names a "budget epoch", and
spend saved under another epoch is ignored.

The answers are a log: after every model call one write saves that call's answer (its JSON
text, which the agent loop made once for the transcript too) together with the spend so far,
under a key of its own (`agentjobs_call_<epoch>_<n>`), so an answer is never kept without its
cost, and a save costs the same at the 200th call as at the first (saving every answer again
each time grew with the square of the conversation, and soon past the store's 64 KB a value).
SPEND_KEY holds the spend at the end of a try and how many answers it covers; a retry reads
the log on from there, and the later of the two is the spend.

Spend saved by an earlier version held every answer in that one record (`calls`); it is read
as it is, and its answers are written to the log with the next save; so are log entries that
hold the answer itself (`response`) rather than its text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

from agentjobs.agent.budget import Usage
from agentjobs.agent.unicode_text import json_text

log = logging.getLogger(__name__)

# Said once per try in the task log when Airflow gives no task state store (it came in 3.3).
NO_STATE_STORE = (
    "Airflow gives this task no task state store (Airflow < 3.3): the caps bound this try only, and "
    "a retry pays again for the model answers earlier tries got (see docs/airflow-versions.md)"
)

SPEND_KEY = "agentjobs_spend"
# When the try last deferred to wait for the rate limiter (wall clock): the resume counts the
# time it spent deferred toward the time cap, which runs from the try's first start.
DEFERRED_KEY = "agentjobs_deferred"


class StateStore(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def set(self, key: str, value: Any) -> None: ...


class _MemoryStore:
    """Used when the task state store is not available (e.g. an older Airflow)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value


def call_key(epoch: int, index: int) -> str:
    """Where the epoch's `index`-th answer is kept (the epoch in the name: a clear starts over)."""
    return f"agentjobs_call_{epoch}_{index}"


@dataclass
class SpendStore:
    store: StateStore
    epoch: int
    # How many of the answers, in the order they were kept, are in the log already.
    _saved_calls: int = field(default=0, init=False)

    @classmethod
    def from_context(cls, context: Any) -> SpendStore:
        ti = context["ti"]
        retries = ti.task.retries or 0
        epoch = int(getattr(ti, "max_tries", 0) or 0) - retries + 1
        store = context.get("task_state_store")
        if store is None:
            log.warning(NO_STATE_STORE)
            store = _MemoryStore()
        return cls(store=store, epoch=epoch)

    def load(self) -> tuple[Usage, float, dict[str, Any]]:
        """Spend, wall time and model answers of earlier tries in this epoch (none after a clear)."""
        self._saved_calls = 0
        saved = self.store.get(SPEND_KEY)
        if not isinstance(saved, dict) or saved.get("epoch") != self.epoch:
            saved = {}
        calls, last = self._read_log()
        if calls:
            covered = saved.get("call_count")
            if last is not None and (not isinstance(covered, int) or len(calls) > covered):
                saved = last  # a try went on after the record was written (and was cut off)
        elif isinstance(saved.get("calls"), dict):  # every answer in the record: logged at the next save
            calls = dict(saved["calls"])
        return Usage.from_dict(saved.get("usage")), float(saved.get("elapsed_s", 0.0)), calls

    def _read_log(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The epoch's answers in order, and the last log entry (None without one)."""
        calls: dict[str, Any] = {}
        last = None
        while True:
            entry = self.store.get(call_key(self.epoch, len(calls)))
            response = _logged_response(entry)
            if response is None or not isinstance(entry.get("key"), str):
                break
            calls[entry["key"]] = response
            last = entry
        self._saved_calls = len(calls)
        return calls, last

    def save(
        self,
        usage: Usage,
        elapsed_s: float,
        calls: dict[str, Any] | None = None,
        texts: Mapping[str, str] | None = None,
    ) -> None:
        """Log the answers of `calls` (all so far, in order) not logged yet, each with this spend;
        with none new, save the spend record (the end of a try, or a spend without an answer).
        `texts` holds answers' JSON text already made (ReplayCache.texts), kept as it is."""
        spend = {"epoch": self.epoch, "usage": usage.as_dict(), "elapsed_s": elapsed_s}
        new = list(islice(calls.items(), self._saved_calls, None)) if calls else []
        for key, response in new:
            text = texts.get(key) if texts else None
            if text is None:
                text = json_text(response)
            # The answer as JSON text: the store encodes (and Airflow's validates) one string,
            # not the whole reply again; an answer JSON cannot hold as text is kept as it is.
            answer = {"response_json": text} if text is not None else {"response": response}
            # Each entry of a batch carries the whole spend: cut off, it counts too much, never too little.
            self.store.set(call_key(self.epoch, self._saved_calls), {**spend, "key": key, **answer})
            self._saved_calls += 1
        if not new:
            self.store.set(SPEND_KEY, {**spend, "call_count": self._saved_calls})

    def mark_deferred(self, at: float) -> None:
        """Note that the try defers now (`at`, seconds since the epoch) to wait."""
        self.store.set(DEFERRED_KEY, {"epoch": self.epoch, "at": at})

    def deferred_at(self) -> float | None:
        """When this epoch's try last deferred, or None."""
        saved = self.store.get(DEFERRED_KEY)
        if not isinstance(saved, dict) or saved.get("epoch") != self.epoch:
            return None
        at = saved.get("at")
        return float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None

    def take_deferred_at(self) -> float | None:
        """When this epoch's try last deferred, or None; the mark is cleared, so a resume counts
        its wait once."""
        at = self.deferred_at()
        if at is not None:
            self.store.set(DEFERRED_KEY, {"epoch": self.epoch, "at": None})
        return at


def _logged_response(entry: Any) -> dict[str, Any] | None:
    """The answer of a log entry: its JSON text (`response_json`), or the reply itself as an
    earlier version kept it (`response`); None when the entry holds no answer."""
    if not isinstance(entry, dict):
        return None
    response = entry.get("response")
    text = entry.get("response_json")
    if response is None and isinstance(text, str):
        try:
            response = json.loads(text)
        except ValueError:
            return None
    return response if isinstance(response, dict) else None

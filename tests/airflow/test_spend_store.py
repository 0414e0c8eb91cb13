"""The budget epoch: retries share one budget, a clear starts a new one."""

from __future__ import annotations

from types import SimpleNamespace

from agentjobs.agent.budget import Usage
from agentjobs.operators.spend_store import SpendStore


class Store(dict):
    def set(self, key, value):
        self[key] = value


def context(store, try_number: int, max_tries: int, retries: int):
    ti = SimpleNamespace(try_number=try_number, max_tries=max_tries, task=SimpleNamespace(retries=retries))
    return {"ti": ti, "task_state_store": store}


def test_a_retry_resumes_the_spend_of_the_earlier_try():
    store = Store()
    SpendStore.from_context(context(store, 1, 2, 2)).save(Usage(iterations=3, total_tokens=90), 12.5)
    usage, elapsed, _ = SpendStore.from_context(context(store, 2, 2, 2)).load()
    assert (usage.iterations, usage.total_tokens, elapsed) == (3, 90, 12.5)


def test_a_clear_starts_a_fresh_budget():
    store = Store()
    SpendStore.from_context(context(store, 3, 2, 2)).save(Usage(iterations=40), 100.0)
    # Airflow's clear sets max_tries = try_number + retries: the next try belongs to a new epoch.
    usage, elapsed, _ = SpendStore.from_context(context(store, 4, 3 + 2, 2)).load()
    assert (usage.iterations, elapsed) == (0, 0.0)


def test_no_state_store_means_a_fresh_budget_each_try():
    ctx = {"ti": SimpleNamespace(try_number=1, max_tries=0, task=SimpleNamespace(retries=0))}
    spend = SpendStore.from_context(ctx)
    spend.save(Usage(iterations=1), 1.0)
    assert spend.load()[0].iterations == 1

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


class CountingStore(Store):
    """The task state store as a worker sees it: what each save writes, in bytes."""

    def __init__(self):
        super().__init__()
        self.written: list[tuple[str, int]] = []

    def set(self, key, value):
        import json

        self.written.append((key, len(json.dumps(value))))
        super().set(key, value)


def answer(n: int) -> dict:
    return {"id": f"chatcmpl-{n}", "choices": [{"message": {"content": "x" * 500}}]}


def test_each_save_writes_the_new_answer_only_and_a_retry_gets_them_all_back():
    store = CountingStore()
    spend = SpendStore.from_context(context(store, 1, 2, 2))
    calls: dict = {}
    for n in range(1, 51):
        calls[f"r1-{n}"] = answer(n)
        store.written.clear()
        spend.save(Usage(iterations=n, total_tokens=10 * n), float(n), calls)
        # One write, the new answer with the spend so far: it does not grow with the conversation.
        assert [key for key, _ in store.written] == [f"agentjobs_call_1_{n - 1}"]
        assert store.written[0][1] < 1000
    spend.save(Usage(iterations=50, total_tokens=500), 51.5, calls)  # the end of the try
    usage, elapsed, kept = SpendStore.from_context(context(store, 2, 2, 2)).load()
    assert (usage.iterations, elapsed) == (50, 51.5)
    assert kept == calls and list(kept) == list(calls)  # every answer, in the order it was paid


def test_a_try_cut_off_mid_loop_leaves_each_answer_with_its_spend():
    # Killed after its third call: no end-of-try record, yet the retry resumes the spend of the
    # last logged call, and the retry after that the spend of both tries.
    store = Store()
    first = SpendStore.from_context(context(store, 1, 2, 2))
    first.load()
    calls: dict = {}
    for n in range(1, 4):
        calls[f"r1-{n}"] = answer(n)
        first.save(Usage(iterations=n, total_tokens=10 * n), float(n), calls)
    second = SpendStore.from_context(context(store, 2, 2, 2))
    usage, elapsed, kept = second.load()
    assert (usage.iterations, usage.total_tokens, elapsed, list(kept)) == (
        3,
        30,
        3.0,
        ["r1-1", "r1-2", "r1-3"],
    )
    second.save(Usage(iterations=3, total_tokens=30), 3.5, kept)  # a spend record, no new answer
    kept["r1-4"] = answer(4)
    second.save(Usage(iterations=4, total_tokens=40), 4.0, kept)  # one more call, then the worker dies
    usage, elapsed, kept = SpendStore.from_context(context(store, 3, 2, 2)).load()
    assert (usage.iterations, elapsed, len(kept)) == (4, 4.0, 4)


def test_spend_saved_by_the_earlier_single_record_layout_is_read_and_carried_forward():
    store = Store()
    old = {"whole-request-key": answer(1)}
    store["agentjobs_spend"] = {
        "epoch": 1,
        "usage": {"iterations": 1, "total_tokens": 9},
        "elapsed_s": 3.0,
        "calls": old,
    }
    retry = SpendStore.from_context(context(store, 2, 2, 2))
    usage, elapsed, kept = retry.load()
    assert (usage.iterations, elapsed, kept) == (1, 3.0, old)
    kept["r1-new"] = answer(2)
    retry.save(Usage(iterations=2, total_tokens=19), 4.0, kept)
    # The next retry finds both, the old answer now in the new layout too.
    assert SpendStore.from_context(context(store, 3, 2, 2)).load()[2] == {**old, "r1-new": answer(2)}


def test_a_clear_does_not_replay_the_answers_of_the_earlier_epoch():
    store = Store()
    SpendStore.from_context(context(store, 1, 2, 2)).save(Usage(iterations=1), 1.0, {"r1-a": answer(1)})
    assert SpendStore.from_context(context(store, 4, 3 + 2, 2)).load()[2] == {}


def test_answers_are_kept_as_their_json_text_and_entries_of_the_earlier_log_layout_still_replay():
    import json

    store = CountingStore()
    # A try of the previous version logged the reply itself (`response`) with its spend.
    store["agentjobs_call_1_0"] = {
        "epoch": 1,
        "usage": {"iterations": 1, "total_tokens": 10},
        "elapsed_s": 1.0,
        "key": "r1-1",
        "response": answer(1),
    }
    retry = SpendStore.from_context(context(store, 2, 2, 2))
    usage, _, kept = retry.load()
    assert (usage.iterations, kept) == (1, {"r1-1": answer(1)})
    kept["r1-2"] = answer(2)
    text = json.dumps(answer(2), ensure_ascii=False)
    retry.save(Usage(iterations=2, total_tokens=20), 2.0, kept, {"r1-2": text})
    # The new answer goes to the store as the text the loop made (one string to encode).
    assert store["agentjobs_call_1_1"]["response_json"] == text
    usage, elapsed, kept = SpendStore.from_context(context(store, 3, 2, 2)).load()
    assert (usage.iterations, elapsed, kept) == (2, 2.0, {"r1-1": answer(1), "r1-2": answer(2)})


def test_a_log_entry_whose_text_is_not_an_answer_ends_the_log():
    store = Store()
    spend = SpendStore.from_context(context(store, 1, 2, 2))
    calls = {"r1-1": answer(1)}
    spend.save(Usage(iterations=1, total_tokens=10), 1.0, calls)
    calls["r1-2"] = answer(2)
    spend.save(Usage(iterations=2, total_tokens=20), 2.0, calls)
    store["agentjobs_call_1_1"] = {**store["agentjobs_call_1_1"], "response_json": "{cut"}
    usage, _, kept = SpendStore.from_context(context(store, 2, 2, 2)).load()
    # The first answer replays with its spend; the damaged one runs live again.
    assert (usage.iterations, list(kept)) == (1, ["r1-1"])


def test_a_deferral_moment_is_read_back_in_its_epoch_only():
    store = Store()
    SpendStore.from_context(context(store, 1, 2, 2)).mark_deferred(1_800_000_000.5)
    assert SpendStore.from_context(context(store, 1, 2, 2)).deferred_at() == 1_800_000_000.5
    # After a clear, the old deferral's wait is not this budget's.
    assert SpendStore.from_context(context(store, 2, 1 + 2, 2)).deferred_at() is None
    assert SpendStore.from_context(context(Store(), 1, 2, 2)).deferred_at() is None


def test_without_a_task_state_store_the_log_says_the_caps_bound_one_try(caplog):
    """Airflow 3.2 (the floor) has no task state store: the try runs, and its log says what is lost."""
    ctx = context(Store(), 1, 2, 2)
    del ctx["task_state_store"]
    with caplog.at_level("WARNING", logger="agentjobs.operators.spend_store"):
        spend = SpendStore.from_context(ctx)
    spend.save(Usage(iterations=2, total_tokens=40), 3.0)
    assert spend.load()[0].total_tokens == 40  # this try still counts against its caps
    assert "no task state store (Airflow < 3.3): the caps bound this try only" in caplog.text
    with caplog.at_level("WARNING", logger="agentjobs.operators.spend_store"):
        caplog.clear()
        SpendStore.from_context(context(Store(), 1, 2, 2))
    assert caplog.text == ""  # Airflow 3.3 gives one: nothing said


def test_a_resume_takes_the_deferral_moment_once_so_a_later_resume_does_not_count_it_again():
    store = Store()
    SpendStore.from_context(context(store, 1, 2, 2)).mark_deferred(1_800_000_000.5)
    assert SpendStore.from_context(context(store, 1, 2, 2)).take_deferred_at() == 1_800_000_000.5
    assert SpendStore.from_context(context(store, 1, 2, 2)).take_deferred_at() is None

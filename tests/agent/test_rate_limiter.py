"""The token bucket (requests spaced, tokens a minute's worth), the limiter's jitter and settling,
and the agent loop with a limiter: it waits for its slot, a 429 never fails the run, and the
time cap still holds. The loop tests use the SQLite store on a file and the scripted model."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import PermanentAgentError, RateLimited
from agentjobs.agent.model_client import EndpointOptions
from agentjobs.agent.rate_limit_sql import SqlBucketStore
from agentjobs.agent.rate_limiter import Bucket, Limits, RateLimiter, adjust, full_bucket, take
from tests.agent.test_loop import GOOD, make_agent, run
from tests.fakes.model_server import error, reply


def test_requests_are_spaced_by_the_limit():
    limits = Limits(requests_per_minute=120)  # one every 0.5 s
    bucket, wait = take(full_bucket(limits, 100.0), limits, 100.0, 0)
    assert wait == 0.0
    refused, wait = take(bucket, limits, 100.1, 0)
    assert wait == pytest.approx(0.4)
    assert refused.requests == pytest.approx(0.2)  # refilled, nothing taken
    _, wait = take(refused, limits, 100.5, 0)
    assert wait == 0.0


def test_idle_time_does_not_save_up_a_burst_of_requests():
    limits = Limits(requests_per_minute=60)
    bucket, _ = take(full_bucket(limits, 0.0), limits, 0.0, 0)
    bucket, wait = take(bucket, limits, 3600.0, 0)  # an hour idle
    assert wait == 0.0
    _, wait = take(bucket, limits, 3600.0, 0)
    assert wait == pytest.approx(1.0)


def test_tokens_wait_for_a_calls_estimate_and_an_oversized_call_takes_a_minute():
    limits = Limits(tokens_per_minute=6000)  # 100 a second
    bucket, wait = take(full_bucket(limits, 0.0), limits, 0.0, 5000)
    assert wait == 0.0 and bucket.tokens == 1000
    _, wait = take(bucket, limits, 0.0, 3000)
    assert wait == pytest.approx(20.0)
    # 9000 can never be in a 6000 bucket: it waits for a full bucket and takes all of it.
    bucket, wait = take(Bucket(0.0, 6000.0, 0.0), limits, 0.0, 9000)
    assert (wait, bucket.tokens) == (0.0, 0.0)


def test_settling_gives_back_or_charges_tokens_and_debt_delays_the_next_call():
    limits = Limits(tokens_per_minute=600)  # 10 a second
    bucket = adjust(Bucket(0.0, 100.0, 0.0), limits, 0.0, -300)  # used 300 more than estimated
    assert bucket.tokens == -200
    _, wait = take(bucket, limits, 0.0, 100)
    assert wait == pytest.approx(30.0)
    assert adjust(Bucket(0.0, 500.0, 0.0), limits, 0.0, 400).tokens == 600  # never above capacity


def test_a_clock_behind_the_stored_one_adds_nothing():
    limits = Limits(requests_per_minute=60)
    _, wait = take(Bucket(0.0, 0.0, 50.0), limits, 49.0, 0)
    assert wait == pytest.approx(1.0)


class _Store:
    """A store that answers a fixed wait and remembers what it was asked."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.taken: list[float] = []
        self.adjusted: list[float] = []

    def take(self, limits: Limits, tokens: float) -> float:
        self.taken.append(tokens)
        return self.wait

    def adjust(self, limits: Limits, tokens: float) -> None:
        self.adjusted.append(tokens)


def test_acquire_jitters_only_waits_and_counts_tokens_only_with_a_token_limit():
    store = _Store(wait=2.0)
    limiter = RateLimiter(Limits(requests_per_minute=30), store)
    waits = {limiter.acquire(500) for _ in range(20)}
    # Spread, but only a little past the slot: a lone waiter pays the stretch on every call.
    assert all(2.0 <= w <= 2.0 * 1.02 + 0.01 for w in waits) and len(waits) > 1
    assert store.taken == [0.0] * 20  # no tokens_per_minute: the estimate is not taken
    assert RateLimiter(Limits(requests_per_minute=30), _Store(wait=0.0)).acquire(500) == 0.0
    limiter.settle(500, 100)
    assert store.adjusted == []


def test_settle_returns_what_was_estimated_but_not_used():
    store = _Store(wait=0.0)
    limiter = RateLimiter(Limits(tokens_per_minute=10_000), store)
    limiter.acquire(900)
    limiter.settle(900, 250)
    limiter.settle(900, None)  # an endpoint without usage: keep the estimate
    assert store.taken == [900.0] and store.adjusted == [650.0]


@pytest.fixture
def sqlite_limiter(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")

    def make(limits: Limits) -> RateLimiter:
        return RateLimiter(limits, SqlBucketStore(engine, "llm_default"))

    yield make
    engine.dispose()


def test_the_loop_waits_for_its_slot_between_calls(model_server, tmp_path, sqlite_limiter):
    model_server.script(reply(GOOD), reply(GOOD))
    agent = make_agent(model_server, tmp_path)
    agent.client.limiter = sqlite_limiter(Limits(requests_per_minute=100))  # one every 0.6 s
    started = time.monotonic()
    run(agent)
    run(agent)
    assert time.monotonic() - started >= 0.6
    assert model_server.calls == 2


def test_with_a_limiter_429s_are_waited_out_past_the_per_call_count(model_server, tmp_path, sqlite_limiter):
    # Without a limiter two waits a call is the end (test_rate_limit.py); with one, the time cap is.
    model_server.script(*[error(429, "slow down", retry_after=0.05)] * 4, error(429, "no hint"), reply(GOOD))
    agent = make_agent(
        model_server, tmp_path, options=EndpointOptions(request_timeout_s=10, rate_limit_waits=2)
    )
    agent.client.limiter = sqlite_limiter(Limits(requests_per_minute=600))
    result = run(agent)
    assert result.result.items == 2
    assert model_server.calls == 6
    assert result.usage.iterations == 1


def test_a_slot_past_the_time_cap_ends_the_try_for_a_later_retry(model_server, tmp_path, sqlite_limiter):
    # The endpoint is busy, the budget is not spent: Airflow's retry (not a permanent failure)
    # asks again later. It used to fail as BudgetExceeded, which is never retried.
    model_server.script(reply(GOOD), reply(GOOD))
    limiter = sqlite_limiter(Limits(requests_per_minute=2))  # the next slot is 30 s away
    first = make_agent(model_server, tmp_path)
    first.client.limiter = limiter
    run(first)
    second = make_agent(model_server, tmp_path, budget=Caps(timeout_s=2))
    second.client.limiter = limiter
    started = time.monotonic()
    with pytest.raises(RateLimited, match=r"next slot is 3\d\.\d s away, past the [0-2]\.\d s left") as busy:
        run(second)
    assert time.monotonic() - started < 1.5 and model_server.calls == 1
    assert "(timeout_s 2): not waited for here; the task's retry asks again later" in str(busy.value)
    assert not isinstance(busy.value, PermanentAgentError)  # operators/retry.py: retried later


def test_a_429_whose_wait_crosses_the_time_cap_ends_the_try_for_a_later_retry(
    model_server, tmp_path, sqlite_limiter
):
    model_server.script(error(429, retry_after=30), reply(GOOD))
    agent = make_agent(model_server, tmp_path, budget=Caps(timeout_s=2))
    agent.client.limiter = sqlite_limiter(Limits(requests_per_minute=600))
    with pytest.raises(
        RateLimited, match=r"a 429's wait is 3\d\.\d s away, past the [0-2]\.\d s left"
    ) as busy:
        run(agent)
    assert not isinstance(busy.value, PermanentAgentError)  # operators/retry.py: retried later
    assert model_server.calls == 1


def test_the_token_estimate_is_the_prompt_and_max_tokens_settled_by_usage(
    model_server, tmp_path, sqlite_limiter
):
    model_server.script(reply(GOOD, prompt_tokens=40, completion_tokens=10))
    agent = make_agent(model_server, tmp_path, options=EndpointOptions(max_tokens_per_call=300))
    limiter = sqlite_limiter(Limits(tokens_per_minute=6000))  # 100 a second
    agent.client.limiter = limiter
    run(agent)
    store = limiter.store
    assert isinstance(store, SqlBucketStore)
    with store.engine.connect() as conn:
        left = conn.execute(sa.text("select tokens from agentjobs_rate_limit")).scalar_one()
    # Took prompt + 300 before the call, got back all but the 50 the endpoint counted; what the
    # bucket refilled meanwhile (100 a second) is the slack.
    assert 6000 - 50 <= left <= 6000 - 35


class _BrokenStore(_Store):
    def adjust(self, limits: Limits, tokens: float) -> None:
        raise OSError("store gone")


def test_a_settle_that_fails_does_not_fail_the_call(caplog):
    limiter = RateLimiter(Limits(tokens_per_minute=1000), _BrokenStore(wait=0.0))
    limiter.settle(500, 100)
    assert "could not settle the rate limiter's tokens: store gone" in caplog.text


def test_a_ledger_that_cannot_be_opened_is_a_transient_error(tmp_path):
    from agentjobs.agent.errors import TransientAgentError

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    store = SqlBucketStore(engine, "llm_default")
    (tmp_path / "ledger.db").unlink()
    (tmp_path / "ledger.db").mkdir()  # the file is now a folder: SQLite cannot open it
    engine.dispose()
    with pytest.raises(TransientAgentError, match="rate limiter's ledger store failed"):
        store.take(Limits(requests_per_minute=60), 0)


class _WaitOnce(_Store):
    """A bucket whose first answer is a wait, then the call may go."""

    def take(self, limits: Limits, tokens: float) -> float:
        self.taken.append(tokens)
        return self.wait if len(self.taken) == 1 else 0.0


def test_a_wait_from_the_threshold_is_handed_to_the_runner_not_slept(model_server, tmp_path):
    from agentjobs.agent.errors import WaitRequested

    model_server.script(reply(GOOD))
    agent = make_agent(model_server, tmp_path, defer_waits_from_s=5.0)
    agent.client.limiter = RateLimiter(
        Limits(requests_per_minute=2), _WaitOnce(wait=30.0), jitter=lambda w: w
    )
    started = time.monotonic()
    with pytest.raises(WaitRequested, match=r"next slot is 30\.0 s away") as asked:
        run(agent)
    assert asked.value.wait_s == 30.0 and time.monotonic() - started < 1.5
    assert model_server.calls == 0  # nothing sent: the runner waits, then asks again


def test_a_wait_below_the_threshold_or_without_a_time_cap_is_slept(model_server, tmp_path):
    model_server.script(reply(GOOD), reply(GOOD))
    for caps, threshold in ((Caps(), 5.0), (Caps(timeout_s=None), 0.1)):
        # Without a time cap nothing would bound the waits across resumes: they are slept.
        agent = make_agent(model_server, tmp_path, budget=caps, defer_waits_from_s=threshold)
        agent.client.limiter = RateLimiter(
            Limits(requests_per_minute=60), _WaitOnce(wait=0.3), jitter=lambda w: w
        )
        started = time.monotonic()
        assert run(agent).result.items == 2
        assert time.monotonic() - started >= 0.3
    assert model_server.calls == 2

"""The limiter's bucket in Redis (127.0.0.1:6379, keys under a prefix of the test's own, deleted
after): the Lua script takes and settles as the Python bucket does, and workers with their own
clients share one bucket. Without Redis the tests skip, except under AGENTJOBS_REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from agentjobs.agent.rate_limit_redis import KEY_PREFIX, RedisBucketStore, bucket_key, redis_store
from agentjobs.agent.rate_limiter import Limits, RateLimiter
from tests.agent.limiter_workers import LIMITER_RPM, assert_within_the_limit_and_nothing_lost, run_workers

redis = pytest.importorskip("redis")
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis not reachable at 127.0.0.1:6379: {exc}"
        if os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    name = f"agentjobs:test-{uuid.uuid4().hex[:10]}:ratelimit:"
    yield name
    for key in client.scan_iter(match=f"{name}*"):
        client.delete(key)
    client.close()


def _store(prefix: str, conn_id: str = "llm_default") -> RedisBucketStore:
    return RedisBucketStore(redis.Redis.from_url(REDIS_URL), conn_id, key_prefix=prefix)


def test_the_key_is_the_connection_id_never_the_api_key():
    assert bucket_key("llm_default") == "agentjobs:ratelimit:llm_default"
    store = redis_store(REDIS_URL, "llm_default")
    assert store.key == f"{KEY_PREFIX}llm_default"
    store.client.close()


def test_the_script_spaces_requests_and_keeps_tokens_like_the_python_bucket(prefix):
    store = _store(prefix)
    limits = Limits(requests_per_minute=60, tokens_per_minute=6000)
    started = time.monotonic()
    assert store.take(limits, 5000) == 0.0
    # The next request is a second away; the 3000 tokens need (3000 - 1000) / 100 = 20 s. The
    # script counts from Redis's clock, so each wait is shorter, and the bucket fuller (100 tokens
    # a second), by the time since the first call: on a loaded machine over a tenth of a second.
    wait = store.take(limits, 3000)
    assert 20.0 - (time.monotonic() - started) - 0.001 <= wait <= 20.0 + 1e-6
    wait = store.take(limits, 100)  # the refused 3000 took nothing: only the request's spacing
    assert 1.0 - (time.monotonic() - started) - 0.001 <= wait <= 1.0 + 1e-6
    store.adjust(limits, 4000)  # the first call used 1000 of its 5000
    level = store.client.hgetall(store.key)
    refilled = 100 * (time.monotonic() - started)
    assert 5000 - 0.1 <= float(level[b"tokens"]) <= 5000 + refilled + 0.1
    store.adjust(limits, 10_000)
    assert float(store.client.hgetall(store.key)[b"tokens"]) == 6000  # never above a minute's worth
    assert 0 < store.client.ttl(store.key) <= 3600  # an idle bucket does not stay forever


def test_connections_have_buckets_of_their_own(prefix):
    limits = Limits(requests_per_minute=6)
    assert _store(prefix, "llm_a").take(limits, 0) == 0.0
    assert _store(prefix, "llm_b").take(limits, 0) == 0.0
    assert _store(prefix, "llm_a").take(limits, 0) > 9


def test_workers_with_their_own_clients_share_one_bucket_and_lose_nothing(prefix, tmp_path):
    limits = Limits(requests_per_minute=LIMITER_RPM)
    outcome = run_workers(tmp_path, lambda: RateLimiter(limits, _store(prefix)), workers=3, runs_each=3)
    assert_within_the_limit_and_nothing_lost(outcome, calls=9)


def test_a_redis_that_does_not_answer_is_a_transient_error():
    from agentjobs.agent.errors import TransientAgentError

    store = RedisBucketStore(redis.Redis(port=1, socket_connect_timeout=1), "llm_default")
    with pytest.raises(TransientAgentError, match="rate limiter's Redis store failed"):
        store.take(Limits(requests_per_minute=60), 0)

"""The limiter's bucket in the ledger database: one row per connection, taken in a transaction
that holds it, so workers with engines of their own share one bucket on SQLite (one file) and
on PostgreSQL (a fresh database of the test's own; skipped without the server, except under
AGENTJOBS_REQUIRE_SERVICES=1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from agentjobs.agent.rate_limit_sql import TABLE, SqlBucketStore
from agentjobs.agent.rate_limiter import Limits, RateLimiter
from tests.agent.limiter_workers import LIMITER_RPM, assert_within_the_limit_and_nothing_lost, run_workers
from tests.postgres import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    with fresh_database("agentjobs_ratelimit") as name:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


@pytest.fixture
def engines(database_url) -> Iterator[list[sa.Engine]]:
    """Engines on the database, each its own pool as a worker process has; disposed after."""
    made: list[sa.Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def _store(
    database_url: str, engines: list[sa.Engine], conn_id: str = "llm_default", **kwargs
) -> SqlBucketStore:
    engine = sa.create_engine(database_url)
    engines.append(engine)
    return SqlBucketStore(engine, conn_id, **kwargs)


def test_one_row_per_connection_taken_and_settled(database_url, engines):
    now = [1000.0]
    store = _store(database_url, engines, clock=lambda: now[0])
    limits = Limits(requests_per_minute=60, tokens_per_minute=6000)
    assert store.take(limits, 5000) == 0.0
    assert store.take(limits, 3000) == pytest.approx(20.0)  # (3000 - 1000) tokens at 100 a second
    now[0] += 1.0
    assert store.take(limits, 100) == 0.0  # a second later the next request is there
    store.adjust(limits, 4000)
    other = _store(database_url, engines, "llm_other", clock=lambda: now[0])
    assert other.take(limits, 6000) == 0.0  # a bucket of its own
    with engines[0].connect() as conn:
        rows = conn.execute(sa.text(f"select conn_id, requests, tokens from {TABLE} order by conn_id")).all()
    assert [(r[0], round(r[1], 6), round(r[2], 6)) for r in rows] == [
        ("llm_default", 0.0, 5000.0),  # 1000 left + 100 refilled - 100 taken + 4000 given back
        ("llm_other", 0.0, 0.0),
    ]


def test_a_second_store_on_the_same_database_finds_the_table_and_the_row(database_url, engines):
    limits = Limits(requests_per_minute=6)
    assert _store(database_url, engines).take(limits, 0) == 0.0
    assert _store(database_url, engines).take(limits, 0) > 9


def test_workers_with_their_own_engines_share_one_bucket_and_lose_nothing(database_url, engines, tmp_path):
    limits = Limits(requests_per_minute=LIMITER_RPM)
    _store(database_url, engines)  # the table, made once before the workers start
    outcome = run_workers(
        tmp_path, lambda: RateLimiter(limits, _store(database_url, engines)), workers=3, runs_each=3
    )
    assert_within_the_limit_and_nothing_lost(outcome, calls=9)


def test_the_first_row_is_made_once_through_psycopg_3_the_ledgers_driver():
    """psycopg (3), the driver of the ledger's connection URI, reports -1 as the rowcount of an
    INSERT … ON CONFLICT DO NOTHING: the bucket's first row was never seen as made, and each
    take retried on another pooled connection until the pool ran out."""
    limits = Limits(requests_per_minute=6)
    engines: list[sa.Engine] = []
    with fresh_database("agentjobs_ratelimit") as name:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        assert _store(url, engines).take(limits, 0) == 0.0
        assert _store(url, engines).take(limits, 0) > 9
        for engine in engines:
            engine.dispose()

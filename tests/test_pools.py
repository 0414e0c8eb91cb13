"""The pool every model call runs in: created when missing, and an operator's sizing never
overwritten by a later set-up."""

from __future__ import annotations

import uuid


def test_a_missing_pool_is_created_and_an_existing_one_keeps_its_slots(airflow_db):
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    from agentjobs.pools import LLM_POOL_DESCRIPTION, ensure_pool

    name = f"agentjobs_llm_{uuid.uuid4().hex[:8]}"
    assert ensure_pool(name, slots=2) is True
    with create_session() as session:
        pool = Pool.get_pool(name, session=session)
        assert pool is not None and (pool.slots, pool.description) == (2, LLM_POOL_DESCRIPTION)
        pool.slots = 7  # the operator resizes it
    assert ensure_pool(name, slots=1, description="the demo's") is False
    with create_session() as session:
        pool = Pool.get_pool(name, session=session)
        assert pool is not None and (pool.slots, pool.description) == (7, LLM_POOL_DESCRIPTION)

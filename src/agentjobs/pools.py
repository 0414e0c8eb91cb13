"""The Airflow pool that caps concurrent model calls across every agentjobs job.

Jobs name it in their spec (`pool: agentjobs_llm`); a task in a pool that does not exist is
never scheduled, so a deployment creates it first (`airflow pools set agentjobs_llm 4 "..."`),
and the demo set-up creates it here.
"""

from __future__ import annotations

LLM_POOL = "agentjobs_llm"
LLM_POOL_DESCRIPTION = "agentjobs: model calls at once across all jobs (the endpoint's rate limit)"


def ensure_pool(name: str = LLM_POOL, slots: int = 1, description: str = LLM_POOL_DESCRIPTION) -> bool:
    """Create the pool in the metadata DB unless it exists; returns whether it was created.

    An existing pool keeps its slots: an operator's sizing is never overwritten.
    """
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    with create_session() as session:
        if Pool.get_pool(name, session=session) is not None:
            return False
        Pool.create_or_update_pool(
            name=name, slots=slots, description=description, include_deferred=False, session=session
        )
    return True

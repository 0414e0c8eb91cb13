"""BatchTrigger: wait in the triggerer until OpenAI batches are done, holding no worker slot.

It polls each batch's status with the LLM connection's settings (its base URL and key, read
in the triggerer) every `poll_interval_s` (None: the connection's `batch_poll_s`), and fires
once every batch is in a final state (completed, expired, failed, cancelled) with their statuses.
An endpoint error that may pass (5xx, 429, a timeout) is polled through; one that will not (401,
404) fires at once with the error, and the task fails saying why.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from agentjobs.hooks import DEFAULT_LLM_CONN_ID


class BatchTrigger(BaseTrigger):
    def __init__(
        self,
        batch_ids: Sequence[str],
        llm_conn_id: str = DEFAULT_LLM_CONN_ID,
        poll_interval_s: float | None = None,
    ) -> None:
        super().__init__()
        self.batch_ids = list(batch_ids)
        self.llm_conn_id = llm_conn_id
        self.poll_interval_s = poll_interval_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "batch_ids": self.batch_ids,
                "llm_conn_id": self.llm_conn_id,
                "poll_interval_s": self.poll_interval_s,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from agentjobs.agent.batch_client import batch_status, translated
        from agentjobs.agent.errors import TransientAgentError

        client, interval = await self._client()
        done: dict[str, dict[str, Any]] = {}
        try:
            while True:
                for batch_id in [b for b in self.batch_ids if b not in done]:
                    try:
                        status = batch_status(await client.batches.retrieve(batch_id))
                    except Exception as exc:
                        error = translated(exc)
                        if error is None or not isinstance(error, TransientAgentError):
                            yield TriggerEvent({"error": f"batch {batch_id}: {error or exc}"[:1000]})
                            return
                        self.log.warning("batch %s: %s; polling on", batch_id, error)
                        continue
                    self.log.info(
                        "batch %s: %s (%d/%d done)", batch_id, status.status, status.completed, status.total
                    )
                    if status.final:
                        done[batch_id] = status.as_dict()
                if len(done) == len(self.batch_ids):
                    yield TriggerEvent({"statuses": [done[b] for b in self.batch_ids]})
                    return
                await asyncio.sleep(interval)
        finally:
            await client.close()

    async def _client(self) -> tuple[Any, float]:
        """An async client on the connection's endpoint (its key masked in the triggerer's log),
        and the seconds between two polls."""
        import openai

        from agentjobs.hooks.llm import LLMHook
        from agentjobs.hooks.llm_settings import settings_from_fields

        conn = await LLMHook.aget_connection(self.llm_conn_id)
        settings = settings_from_fields(self.llm_conn_id, conn.host, conn.password, conn.extra_dejson)
        for secret in settings.secrets:
            LLMHook.mask_secret(secret)
        client = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key,
            timeout=settings.options.request_timeout_s,
            max_retries=0,
        )
        return client, self.poll_interval_s or settings.options.batch_poll_s

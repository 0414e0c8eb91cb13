"""The LLM connection: any OpenAI-compatible endpoint (OpenAI, Azure-style gateways, vLLM,
llama.cpp, Ollama) as an `openai.OpenAI` client.

Fields: Base URL in *host*, API key in *password*; the default model, request timeout,
price table and endpoint dialect live in *extra* and get their own form fields.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk.bases.hook import BaseHook

from agentjobs.agent.model_client import ModelClient, endpoint_address
from agentjobs.agent.rate_limiter import BucketStore, RateLimiter
from agentjobs.hooks import DEFAULT_LLM_CONN_ID
from agentjobs.hooks.llm_settings import LLMConnectionError, LLMSettings, settings_from_fields
from agentjobs.hooks.rate_limit_settings import LEDGER_STORE

if TYPE_CHECKING:
    import openai


class LLMHook(BaseHook):
    """Reads an `agentjobs_llm` connection and builds clients for it.

    One hook serves one task: it reads and parses its connection once and keeps the settings
    and the client (`settings`, `conn`), as the official providers' hooks keep their client.
    """

    conn_name_attr = "llm_conn_id"
    default_conn_name = DEFAULT_LLM_CONN_ID
    conn_type = "agentjobs_llm"
    hook_name = "agentjobs LLM endpoint (OpenAI-compatible)"

    def __init__(self, llm_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.llm_conn_id = llm_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port", "login"],
            "relabeling": {"host": "Base URL", "password": "API key"},
            "placeholders": {
                "host": "https://api.openai.com/v1",
                "password": "sk-... (any value for local servers)",
            },
        }

    @cached_property
    def settings(self) -> LLMSettings:
        """The connection, read and parsed once for this hook."""
        conn = self.get_connection(self.llm_conn_id)
        self._description = (conn.description or "").strip()
        # Keys of a secret-bearing connection must never reach a log or an alert.
        if conn.password:
            self.mask_secret(conn.password)
        settings = settings_from_fields(self.llm_conn_id, conn.host, conn.password, conn.extra_dejson)
        for secret in settings.secrets:  # the rate limiter's Redis password, too
            self.mask_secret(secret)
        return settings

    def get_settings(self) -> LLMSettings:
        return self.settings

    @cached_property
    def conn(self) -> openai.OpenAI:
        """This hook's client, built once (closing it is the caller's, see `get_model_client`)."""
        return self.get_conn()

    def get_conn(self) -> openai.OpenAI:
        """A new `openai.OpenAI` client; retries are Airflow's job, so the SDK's own are off."""
        import openai

        settings = self.settings
        return openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key,
            timeout=settings.options.request_timeout_s,
            max_retries=0,
        )

    def get_model_client(self, model: str | None = None) -> ModelClient:
        """A client of `model` (else the connection's) on this hook's client; closing it closes that."""
        settings = self.settings
        chosen = model or settings.model
        if not chosen:
            raise LLMConnectionError(
                f"no model given: set the operator's `model` or the `model` extra of connection "
                f"{self.llm_conn_id!r}"
            )
        if self.conn.is_closed():  # an earlier run closed it: a new one, on the settings read already
            del self.conn
        return ModelClient(self.conn, chosen, settings.options, limiter=self.limiter, where=self.where)

    @cached_property
    def where(self) -> str:
        """The endpoint and what sets it, e.g. "http://h:8080/v1 (the Base URL of connection 'x';
        set from OPENAI_BASE_URL)": the connection's description says where it came from."""
        settings = self.settings  # reads the connection, its description too
        origin = f"; {self._description}" if self._description else ""
        return (
            f"{endpoint_address(settings.base_url)} (the Base URL of connection {self.llm_conn_id!r}{origin})"
        )

    @cached_property
    def limiter(self) -> RateLimiter | None:
        """The connection's rate limiter (None: it sets no limit). Its bucket is keyed by the
        connection id, so every task on every worker that uses this connection shares it."""
        rate_limit = self.settings.rate_limit
        if rate_limit is None:
            return None
        store: BucketStore
        if rate_limit.store == LEDGER_STORE:
            from agentjobs.agent.rate_limit_sql import SqlBucketStore
            from agentjobs.hooks.ledger import LedgerHook

            # The deployment's ledger ($AGENTJOBS_LEDGER_CONN_ID, else the local SQLite file).
            store = SqlBucketStore(LedgerHook().get_engine(), self.llm_conn_id)
        else:
            from agentjobs.agent.rate_limit_redis import redis_store

            store = redis_store(rate_limit.store, self.llm_conn_id)
        return RateLimiter(rate_limit.limits, store)

    def test_connection(self) -> tuple[bool, str]:
        try:
            client = self.get_conn()
            with client:
                names = [m.id for m in client.models.list()]
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, f"reached the endpoint; it serves {len(names)} model(s)"

    @staticmethod
    def mask_secret(secret: str) -> None:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)

"""agentjobs: unattended, scheduled LLM-agent jobs for Apache Airflow 3.

Importing this package stays cheap and imports neither Airflow nor any SDK: Airflow's
provider manager calls `get_provider_info` through the `apache_airflow_provider`
entry point at start-up.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    from agentjobs.airflow_config import provider_config  # cheap: no Airflow, declarations only

    return {
        "package-name": "airflow-provider-agentjobs",
        "name": "agentjobs",
        "description": "Unattended, scheduled LLM-agent jobs: a tool loop under hard caps, "
        "output contracts, idempotent delivery.",
        "versions": [__version__],
        # LedgerHook has no connection type of its own: it reads `sqlite` and `postgres` connections.
        "hooks": [
            {
                "integration-name": "agentjobs",
                "python-modules": ["agentjobs.hooks.llm", "agentjobs.hooks.ledger", "agentjobs.hooks.github"],
            }
        ],
        "operators": [{"integration-name": "agentjobs", "python-modules": ["agentjobs.operators.agent"]}],
        # @task.agentjobs: not common-ai's @task.agent, so both providers can be installed.
        "task-decorators": [{"class-name": "agentjobs.decorators.agent.agentjobs_task", "name": "agentjobs"}],
        "connection-types": [
            {
                "hook-class-name": "agentjobs.hooks.llm.LLMHook",
                "hook-name": "agentjobs LLM endpoint (OpenAI-compatible)",
                "connection-type": "agentjobs_llm",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "Base URL", "password": "API key"},
                    "placeholders": {
                        "host": "https://api.openai.com/v1",
                        "password": "sk-... (any value for local servers)",
                        "model": "gpt-4o-mini",
                        "prices": '{"gpt-4o-mini": {"input": 0.15, "output": 0.6}}',
                    },
                },
                "conn-fields": {
                    "model": {
                        "label": "Default model",
                        "schema": {"type": ["string", "null"]},
                        "description": "Used when an operator does not name a model.",
                    },
                    "timeout": {
                        "label": "Request timeout (s)",
                        "schema": {"type": ["number", "null"]},
                        "description": "Seconds one model call may take (default 120).",
                    },
                    "prices": {
                        "label": "Price table (USD per 1M tokens)",
                        "schema": {"type": ["object", "null"]},
                        "description": 'Per model, or "*" for all: {"input": 0.15, "output": 0.6}. '
                        "Needed for max_cost_usd.",
                    },
                    "structured_dialect": {
                        "label": "Structured output dialect",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["json_schema", "json_object_schema", None],
                        },
                        "description": "json_schema: OpenAI, vLLM, llama-server. "
                        "json_object_schema: llama-cpp-python's server.",
                    },
                    "max_tokens_param": {
                        "label": "max tokens parameter",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["max_tokens", "max_completion_tokens", None],
                        },
                        "description": "max_completion_tokens for OpenAI reasoning models.",
                    },
                    "max_tokens_per_call": {
                        "label": "Max tokens per call",
                        "schema": {"type": ["integer", "null"]},
                        "description": "Upper bound on one reply (default 4096); "
                        "the budget may clamp it lower.",
                    },
                    "rate_limit_waits": {
                        "label": "Rate-limit waits per call",
                        "schema": {"type": ["integer", "null"], "minimum": 0},
                        "description": "How many 429s with Retry-After one call waits out in the task "
                        "before failing the try (default 3; 0: fail at once).",
                    },
                    "batch_poll_s": {
                        "label": "Batch poll interval (s)",
                        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
                        "description": "How often a `mode: batch` run asks whether its batch is done "
                        "(default 60).",
                    },
                    "requests_per_minute": {
                        "label": "Requests per minute",
                        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
                        "description": "Shared rate limit of this connection across all workers "
                        "(empty: none). With a limit, a 429 is waited out until the time cap.",
                    },
                    "tokens_per_minute": {
                        "label": "Tokens per minute",
                        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
                        "description": "Shared token limit (prompt + max tokens, settled by usage).",
                    },
                    "rate_limit_store": {
                        "label": "Rate limiter store",
                        "schema": {"type": ["string", "null"]},
                        "description": "Where the shared bucket lives: ledger (default) or a "
                        "redis://host:6379/0 URL.",
                    },
                    "reports_usage": {
                        "label": "Endpoint reports usage",
                        "schema": {"type": ["boolean", "null"]},
                        "description": "Uncheck only for endpoints that omit `usage`; "
                        "token and cost caps are then refused.",
                    },
                },
            }
        ],
        # Failure, deadline and health alerts: one class for workers and the triggerer.
        "notifications": ["agentjobs.notifications.alert.JobAlertNotifier"],
        # The [agentjobs] options: `airflow config list` shows them with their defaults.
        "config": provider_config(),
    }

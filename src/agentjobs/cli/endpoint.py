"""The model the command runs on: OPENAI_* variables, else the `agentjobs_llm_default`
connection, else the embedded local model (started for the run, stopped after)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CLI_CONN_ID = "agentjobs_llm_cli"
DEFAULT_CONN_ID = "agentjobs_llm_default"


def endpoint_connection() -> dict[str, Any] | None:
    """The LLM connection from OPENAI_* variables, or None when they are not set."""
    base_url = os.environ.get("OPENAI_BASE_URL")
    if not base_url:
        return None
    model = os.environ.get("AGENTJOBS_MODEL")
    if not model:
        raise SystemExit(
            "agentjobs: OPENAI_BASE_URL is set but AGENTJOBS_MODEL is not; name the model to use"
        )
    extra: dict[str, Any] = {"model": model}
    if os.environ.get("AGENTJOBS_PRICES"):
        # USD per 1M tokens, e.g. {"*": {"input": 0.15, "output": 0.6}}: enables the cost cap.
        extra["prices"] = json.loads(os.environ["AGENTJOBS_PRICES"])
    return {
        "conn_type": "agentjobs_llm",
        "description": "set from OPENAI_BASE_URL",  # named when the endpoint cannot be reached
        "host": base_url,
        "password": os.environ.get("OPENAI_API_KEY", ""),
        "extra": extra,
    }


@dataclass(frozen=True)
class Endpoint:
    conn_id: str
    described: str
    local: bool  # the embedded model: structured mode only
    priced: bool  # a cost cap can be enforced


@contextlib.contextmanager
def model_endpoint() -> Iterator[Endpoint]:
    """The model to use; starts and stops the local model when it is the one used."""
    explicit = endpoint_connection()
    if explicit is not None:
        os.environ[f"AIRFLOW_CONN_{CLI_CONN_ID.upper()}"] = json.dumps(explicit)
        described = f"{explicit['extra']['model']} at {explicit['host']}"
        yield Endpoint(CLI_CONN_ID, described, local=False, priced="prices" in explicit["extra"])
        return
    defined = os.environ.get(f"AIRFLOW_CONN_{DEFAULT_CONN_ID.upper()}")
    if defined:
        priced = "prices" in defined  # the connection's own check still applies at run time
        yield Endpoint(DEFAULT_CONN_ID, f"the {DEFAULT_CONN_ID} connection", local=False, priced=priced)
        return
    from agentjobs.local_model import running_local_model

    print("agentjobs: starting the embedded local model (tiny: it shows the pipeline, not quality) …")
    with running_local_model() as local:
        conn = {
            "conn_type": "agentjobs_llm",
            "description": "the embedded local model this command started",
            "host": local.base_url,
            "password": "local",
            "extra": {
                "model": local.model,
                "timeout": local.options.request_timeout_s,
                "structured_dialect": local.options.structured_dialect,
                "max_tokens_per_call": local.options.max_tokens_per_call,
                "prices": {"*": {"input": 0, "output": 0}},  # it runs on this machine
            },
        }
        os.environ[f"AIRFLOW_CONN_{CLI_CONN_ID.upper()}"] = json.dumps(conn)
        yield Endpoint(CLI_CONN_ID, f"the embedded local model {local.model}", local=True, priced=True)

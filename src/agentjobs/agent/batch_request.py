"""One Batch API request line per run: exactly the request the online structured call sends.

A batch (OpenAI's Batch API: half the price, answered within 24 h) carries one JSON line per
team: `custom_id`, `method`, `url` and `body`. The body is built by the same code that builds
the online call (`ModelClient.request_body`), with the same system prompt, response format and
`max_tokens` clamped to the run's caps, so a batched answer is the answer online mode would
have asked for, and an online fallback for a team the batch missed asks the same question.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from agentjobs.agent.budget import BudgetMeter, Prices
from agentjobs.agent.errors import PermanentAgentError
from agentjobs.agent.model_client import ModelClient
from agentjobs.agent.plan import RunPlan
from agentjobs.agent.prompt_size import message_tokens, request_tokens
from agentjobs.agent.unicode_text import make_valid_from

BATCH_ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
# The Batch API bills both directions at half the model's online price (OpenAI's pricing page).
BATCH_PRICE_FACTOR = 0.5
# What a custom_id may hold: the API takes any string, but ours is also a file and log key.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_KEY_TEXT = 40  # characters of the readable part; the hash keeps keys of similar names apart


def batch_key(name: str) -> str:
    """A safe, stable custom_id for `name` (a team id, which is user data): its readable part
    with anything but letters, digits, `_.-` replaced, and a hash of the whole name, so two
    names that read alike ("a/b", "a_b") never share a key."""
    readable = _UNSAFE.sub("_", name)[:_KEY_TEXT].strip("_.") or "team"
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{readable}-{digest}"


def batch_prices(prices: Prices) -> Prices:
    """The model's prices at the Batch API's discount."""
    return Prices(
        input_per_million=prices.input_per_million * BATCH_PRICE_FACTOR,
        output_per_million=prices.output_per_million * BATCH_PRICE_FACTOR,
    )


def structured_messages(plan: RunPlan) -> list[dict[str, Any]]:
    """The conversation a structured run starts with (agent/loop.py's `Agent.run`)."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": plan.system_prompt()},
        {"role": "user", "content": plan.prompt},
    ]
    make_valid_from(messages, 0)  # as the loop does before each call
    return messages


def response_format(plan: RunPlan, client: ModelClient) -> dict[str, Any]:
    return client.response_format(plan.bound_skill.name.replace("-", "_"), plan.schema())


def request_line(key: str, plan: RunPlan, client: ModelClient, meter: BudgetMeter) -> dict[str, Any]:
    """The batch line of one bound plan: refused unless the plan is structured (one request, one
    answer: a tool loop cannot wait a day between its turns), and checked against the caps the
    way the online call is before it is sent."""
    if plan.effective_mode != "structured":
        raise PermanentAgentError(
            f"skill {plan.bound_skill.name!r} runs in {plan.effective_mode} mode; only structured "
            "mode (one request, one answer) can go through the Batch API: set `mode: structured` "
            "or drop `mode: batch`"
        )
    messages = structured_messages(plan)
    fmt = response_format(plan, client)
    prompt = None
    if meter.counts_prompts:
        prompt = sum(message_tokens(m) for m in messages) + request_tokens(None, fmt)
    meter.check_before_call(prompt)
    max_tokens = meter.clamp_max_tokens(client.options.max_tokens_per_call)
    body = client.request_body(messages, max_tokens=max_tokens, response_format=fmt)
    return {"custom_id": key, "method": "POST", "url": BATCH_ENDPOINT, "body": body}


def jsonl(lines: Iterable[dict[str, Any]]) -> bytes:
    """The batch input file: one JSON object a line, keys unique (the API refuses repeats)."""
    seen: set[str] = set()
    out: list[str] = []
    for line in lines:
        key = line["custom_id"]
        if key in seen:
            raise ValueError(f"custom_id {key!r} appears twice in one batch; each team is one line")
        seen.add(key)
        out.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
    if not out:
        raise ValueError("a batch needs at least one request line")
    return ("\n".join(out) + "\n").encode("utf-8")

"""A run answered by its batch line: the reply held to the contract, its usage on the caps.

The batch's answer is counted like an online call (one iteration, the API's own usage) at the
Batch API's price, once per task instance (a retry finds it in the replay cache the spend is
kept with), and checked by the same structured-reply parser. A reply that breaks the
contract is no answer: the runner then asks online, within what the caps have left.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agentjobs.agent.batch_request import batch_prices, structured_messages
from agentjobs.agent.budget import BudgetMeter
from agentjobs.agent.contract import parse_structured
from agentjobs.agent.errors import ContractViolation
from agentjobs.agent.model_client import ModelClient
from agentjobs.agent.plan import RunPlan
from agentjobs.agent.replay import RUNNING_PREFIX
from agentjobs.agent.transcript import Transcript


def answer_from_batch(
    plan: RunPlan, client: ModelClient, meter: BudgetMeter
) -> tuple[dict[str, Any], str] | None:
    """The plan's batch answer as the skill's validated result and the model that gave it; None
    when the reply breaks the contract (the caller asks online). Raises BudgetExceeded when the
    answer's usage crosses a cap, as an online reply would."""
    assert plan.batch_answer is not None
    completion = client.from_raw(plan.batch_answer)
    with Transcript(plan.transcript_path, secrets=plan.secrets) as transcript:
        transcript.record("start", mode="batch", model=client.model, messages=structured_messages(plan))
        transcript.record("completion", source="batch", response=completion.raw)
        key = batch_replay_key(plan.batch_answer)
        if plan.replay is not None and plan.replay.get(key) is not None:
            # An earlier try of this task counted this answer already (its spend was kept).
            plan.replay.replayed += 1
        else:
            if plan.replay is not None:  # kept with the spend, so a retry does not count it again
                plan.replay.put(key, {"batch": True})
            record_at_batch_price(
                meter, completion.prompt_tokens, completion.completion_tokens, completion.total_tokens
            )
            if plan.on_iteration is not None:
                plan.on_iteration(meter.usage, completion)
        try:
            result = parse_structured(completion.content or "", plan.result_model(), secrets=plan.secrets)
        except ContractViolation as violation:
            transcript.record("contract_violation", error=str(violation), then="asking online")
            return None
        answer = result.model_dump(mode="json", by_alias=True)
        transcript.record("result", result=answer)
    return answer, completion.model


def batch_replay_key(completion: dict[str, Any]) -> str:
    """The replay cache's key of a batch answer: a running-hash key (replay.py) that no request
    fingerprint shares."""
    digest = hashlib.sha256(json.dumps(completion, sort_keys=True, default=str).encode()).hexdigest()
    return f"{RUNNING_PREFIX}batch-{digest}"


def record_at_batch_price(
    meter: BudgetMeter, prompt_tokens: int | None, completion_tokens: int | None, total_tokens: int | None
) -> None:
    """Count one batched call on the meter at the batch price (the meter keeps the online one)."""
    if prompt_tokens is None or completion_tokens is None:
        meter.record_call_without_usage()
        return
    online = meter.prices
    meter.prices = batch_prices(online)
    try:
        meter.record(prompt_tokens, completion_tokens, total_tokens)
    finally:
        meter.prices = online

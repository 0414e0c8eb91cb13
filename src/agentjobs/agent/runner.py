"""Run one skill once, and hold what it answers to the run's policy.

`run_skill` is the whole agent runtime behind one call (the jail, the tools, the prompt, the
agent, everything closed after), so the Airflow operator, the command line, the benchmarks
and the tests all run a skill the same way. Around it, what every job's run obeys: caps that
could never trip are refused, a plan may answer without a call (`answer_plan`), the skill's
contract has the last word and an empty result fails unless the job allows it (`settle`),
and what leaves (the result, an error) is scrubbed of secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from agentjobs.agent.budget import BudgetMeter, Prices
from agentjobs.agent.caps import Caps
from agentjobs.agent.contract import parse_result_dict
from agentjobs.agent.errors import EmptyResult as EmptyResult  # where callers found it
from agentjobs.agent.errors import PermanentAgentError, WaitRequested
from agentjobs.agent.failover import Endpoint, Failover
from agentjobs.agent.loop import Agent, AgentResult
from agentjobs.agent.model_client import EndpointOptions, ModelClient
from agentjobs.agent.plan import RunPlan
from agentjobs.agent.scrub import scrub, scrub_exception, scrub_json
from agentjobs.agent.toolset import open_toolsets
from agentjobs.agent.transcript import Transcript

ERROR_TEXT_LIMIT = 1000  # characters of a failure kept beside the usage in XCom


def run_skill(run: RunPlan, client: ModelClient, meter: BudgetMeter) -> AgentResult:
    """Run the skill under the meter's caps. The meter keeps the spend even when this raises."""
    work_dir = run.folder
    work_dir.mkdir(parents=True, exist_ok=True)
    # The toolsets are closed whatever ends the run (an answer, a cap, a wait for the limiter);
    # a run in structured mode offers no tools, so it opens none.
    with ExitStack() as toolsets, Transcript(run.transcript_path, secrets=run.secrets) as transcript:
        try:
            tools = None
            if run.effective_mode != "structured":
                tools = run.registry(open_toolsets(toolsets, run.toolsets))
            agent = Agent(
                client=client,
                meter=meter,
                tools=tools,
                transcript=transcript,
                max_repairs=run.max_repairs,
                secrets=run.secrets,
                on_iteration=run.on_iteration,
                tool_sequence=run.tool_sequence,
                replay=run.replay,
                defer_waits_from_s=run.defer_waits_from_s,
                failover=run.failover,
                tracer=run.tracer,
            )
            return agent.run(
                system=run.system_prompt(),
                prompt=run.prompt,
                result_model=run.result_model(),
                mode=run.effective_mode,
                schema_name=run.bound_skill.name.replace("-", "_"),
                schema=run.schema(),
            )
        except WaitRequested as wait:  # not a failure: the run goes on once the runner has waited
            transcript.record("waiting", wait_s=round(wait.wait_s, 3), reason=wait.what)
            raise
        except Exception as exc:
            transcript.record("failed", error_type=type(exc).__name__, error=str(exc))
            raise


def answer_plan(plan: RunPlan, client: ModelClient, meter: BudgetMeter) -> tuple[dict[str, Any], str]:
    """The plan's own answer without a call, else the model's under the meter; and who answered
    (the client's model when no call was made, else the model the endpoint named)."""
    if plan.answer is not None:
        return plan.answer, client.model
    if plan.batch_answer is not None:
        from agentjobs.agent.batch_answer import answer_from_batch

        answered = answer_from_batch(plan, client, meter)
        if answered is not None:
            return answered
    outcome = run_skill(plan, client, meter)
    return outcome.result.model_dump(mode="json", by_alias=True), outcome.model


def settle(
    plan: RunPlan,
    answer: dict[str, Any],
    *,
    finish: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """The answer made the skill's RESULT by the job's `finish`, held to the skill's contract and
    the empty check, and scrubbed: what may leave the runtime (XCom is readable by anyone who
    can see the run)."""
    result = finish(answer) if finish is not None else answer
    # The contract is the last word, whatever the mode or the job's finish produced: the DAG
    # author's output type, else the skill's.
    skill = plan.bound_skill
    result = parse_result_dict(result, plan.contract_model(), own_json=plan.output_type is not None)
    check_not_empty(skill.empty_field, result, allow_empty)
    return scrub_json(result, plan.secrets)


def scrub_failure(exc: BaseException, secrets: Sequence[str]) -> str:
    """Scrub a failed run's exception chain in place (the task log renders all of it, an
    endpoint's error body included) and return it as one bounded line for XCom and alerts."""
    scrub_exception(exc, secrets)
    return scrub(f"{type(exc).__name__}: {exc}", secrets)[:ERROR_TEXT_LIMIT]


def check_caps_enforceable(caps: Caps, options: EndpointOptions, prices: Prices | None, model: str) -> None:
    """Refuse a cap that could never trip rather than run without it."""
    if not options.reports_usage and (caps.max_total_tokens or caps.max_cost_usd):
        raise PermanentAgentError(
            "the LLM connection says its endpoint does not report usage, so max_total_tokens and "
            "max_cost_usd cannot be enforced; set both to None or use an endpoint that reports usage"
        )
    if caps.max_cost_usd and prices is None:
        raise PermanentAgentError(
            f"max_cost_usd is set but the LLM connection has no price for model {model!r}; add it "
            "to the connection's prices extra, e.g. {\"" + model + '": {"input": 0.15, "output": 0.6}}'
        )


def checked_endpoint(caps: Caps, client: ModelClient, prices: Prices | None, name: str) -> Endpoint:
    """One endpoint of the run (`name`: its connection), checked against the caps before any
    call: a fallback that could not enforce them must not be reached mid-run. A model without
    prices is priced at zero, which only a run without a cost cap gets this far with."""
    check_caps_enforceable(caps, client.options, prices, client.model)
    return Endpoint(client, prices or Prices(), name=name)


def run_usage(meter: BudgetMeter, failover: Failover, secrets: Sequence[str]) -> dict[str, Any]:
    """The run's usage as it leaves the runtime: the meter's; with fallbacks, also which endpoint
    answered the last call (`answered_by`) and each move (`failovers`, reasons scrubbed)."""
    usage: dict[str, Any] = dict(meter.usage.as_dict())
    if failover.enabled:
        usage["answered_by"] = failover.answered_by
        usage["failovers"] = [{**move, "reason": scrub(move["reason"], secrets)} for move in failover.moves]
    return usage


def check_not_empty(empty_field: str | None, result: dict[str, Any], allow_empty: bool) -> None:
    if empty_field is None or allow_empty:
        return
    if result.get(empty_field) == 0:
        raise EmptyResult(
            f"the result's {empty_field!r} is 0 and this job does not allow empty results; "
            "pass allow_empty=True if an empty day is normal"
        )


__all__ = [
    "EmptyResult",
    "RunPlan",
    "answer_plan",
    "check_caps_enforceable",
    "checked_endpoint",
    "run_skill",
    "run_usage",
    "scrub_failure",
    "settle",
]

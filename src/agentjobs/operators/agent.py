"""AgentOperator: run one skill under hard caps and push a small, parsed result to XCom."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from airflow.sdk import BaseOperator

from agentjobs.agent.budget import Budget, BudgetMeter, Prices, Usage
from agentjobs.agent.contract import parse_result_dict
from agentjobs.agent.errors import BudgetExceeded, ContractViolation, PermanentAgentError
from agentjobs.agent.http_policy import HttpPolicy
from agentjobs.agent.model_client import Completion
from agentjobs.agent.replay import ReplayCache
from agentjobs.agent.runner import SkillRun, run_skill
from agentjobs.agent.scrub import scrub, scrub_exception, scrub_json, scrubbed_errors
from agentjobs.agent.skills import Skill, default_skills_dir, load_skill
from agentjobs.agent.tools import Tool
from agentjobs.hooks.llm import LLMHook
from agentjobs.operators import metrics
from agentjobs.operators.artifacts import run_dir
from agentjobs.operators.retry import AGENT_RETRY_POLICY
from agentjobs.operators.run_summary import log_run_summary
from agentjobs.operators.spend_store import SpendStore


class EmptyResult(PermanentAgentError):
    """The skill's item count is 0 and the job does not allow empty results."""


class AgentOperator(BaseOperator):
    """
    Run a skill's agent under hard caps and push ``{"result", "usage", "artifact", "model"}``.

    **Budget scope.** ``max_iterations``, ``max_total_tokens``, ``max_cost_usd`` and
    ``timeout_s`` bound the *whole task instance across its retries*: what earlier tries
    spent is kept in Airflow's task state store and a retry starts from there. A clear
    from the UI (or ``airflow tasks clear``) starts a fresh budget. Crossing a cap raises
    ``BudgetExceeded``; a broken output contract raises ``ContractViolation`` after
    ``max_repairs`` repair turns. Neither uses up retries (see ``AGENT_RETRY_POLICY``);
    429/5xx/timeouts retry, 400/401/403 fail at once.

    The transcript (JSON lines) goes to ``<work_dir>/transcript.jsonl``; XCom gets only
    the small dict. ``usage`` is pushed under the XCom key ``usage`` on failure too.

    :param skill: name of a folder in ``skills_dir`` (or a path relative to it; nothing outside it).
    :param prompt: the task's prompt (templated).
    :param llm_conn_id: an ``agentjobs_llm`` connection.
    :param model: overrides the connection's default model (templated).
    :param tools: names of tools to offer (default: all the skill allows).
    :param work_dir: the run's work directory (templated); default
        ``$AGENTJOBS_ARTIFACT_BASE/<dag_id>/<logical date>``.
    :param allow_empty: accept a result whose item count (the skill's ``empty_field``) is 0.
    """

    template_fields: Sequence[str] = (
        "prompt",
        "model",
        "work_dir",
        "max_iterations",
        "max_total_tokens",
        "max_cost_usd",
        "timeout_s",
        "max_repairs",
        "allow_empty",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"prompt": "md"}
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        skill: str,
        prompt: str,
        llm_conn_id: str = LLMHook.default_conn_name,
        model: str | None = None,
        tools: Sequence[str] | None = None,
        max_iterations: int = 40,
        max_total_tokens: int | None = 200_000,
        max_cost_usd: float | None = None,
        timeout_s: float | None = 900,
        max_repairs: int = 1,
        work_dir: str | None = None,
        skills_dir: str | None = None,
        allow_empty: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retry_policy", AGENT_RETRY_POLICY)
        if timeout_s is not None:
            # The budget's clock stops the loop; execution_timeout is the backstop for a hang
            # outside it (a tool stuck in I/O), so it gets a margin above the budget.
            kwargs.setdefault("execution_timeout", timedelta(seconds=float(timeout_s) + 60))
        super().__init__(**kwargs)
        self.skill = skill
        self.prompt = prompt
        self.llm_conn_id = llm_conn_id
        self.model = model
        self.tools = list(tools) if tools is not None else None
        self.max_iterations = max_iterations
        self.max_total_tokens = max_total_tokens
        self.max_cost_usd = max_cost_usd
        self.timeout_s = timeout_s
        self.max_repairs = max_repairs
        self.work_dir = work_dir
        self.skills_dir = skills_dir
        self.allow_empty = allow_empty

    def budget(self) -> Budget:
        """The caps as rendered: templated values arrive as strings, and "None" means no cap."""

        def number(value: Any, kind: type) -> Any:
            if value is None or (isinstance(value, str) and value.strip() in ("", "None", "null")):
                return None
            try:
                return kind(float(value)) if kind is int else kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"a cap must be a number or None, got {value!r}") from None

        iterations = number(self.max_iterations, int)
        return Budget(
            max_iterations=40 if iterations is None else iterations,
            max_total_tokens=number(self.max_total_tokens, int),
            max_cost_usd=number(self.max_cost_usd, float),
            timeout_s=number(self.timeout_s, float),
        )

    def prepare(self, context: Any, skill: Skill, work_dir: Path) -> RunPlan:
        """What to ask the model this run. Subclasses add data, a mode or a run-made schema."""
        return RunPlan(prompt=self.prompt)

    def finish(self, result: dict[str, Any], plan: RunPlan, work_dir: Path, context: Any) -> dict[str, Any]:
        """Turn the model's validated answer into the skill's RESULT (default: as it is)."""
        return result

    def execute(self, context: Any) -> dict[str, Any]:
        # Set-up errors (connection, skill, sources) reach the log and the alert scrubbed too.
        with scrubbed_errors():
            return self._run(context)

    def _run(self, context: Any) -> dict[str, Any]:
        skill = load_skill(self.skill, Path(self.skills_dir) if self.skills_dir else default_skills_dir())
        work_dir = Path(self.work_dir) if self.work_dir else run_dir(context)
        work_dir.mkdir(parents=True, exist_ok=True)
        plan = self.prepare(context, skill, work_dir)
        hook = LLMHook(self.llm_conn_id)
        settings = hook.get_settings()
        budget = self.budget()
        client = hook.get_model_client(self.model)
        prices = settings.prices_for(client.model)
        _check_caps_enforceable(budget, settings.options.reports_usage, prices is not None, client.model)

        spend = SpendStore.from_context(context)
        spent, elapsed_before, kept_calls = spend.load()
        spent_before = dataclasses.replace(spent)  # the meter adds to `spent` in place
        if spent.iterations:
            self.log.info(
                "Resuming the budget of earlier tries: %s; %d model answer(s) kept for replay",
                spent.as_dict(),
                len(kept_calls),
            )
        replay = ReplayCache(kept_calls)
        meter = BudgetMeter(budget, prices or Prices(), usage=spent, elapsed_before_s=elapsed_before)
        secrets = [settings.api_key] if settings.api_key != "not-needed" else []

        def on_iteration(usage: Usage, completion: Completion) -> None:
            spend.save(usage, meter.elapsed_s, replay.entries)
            self.log.info(
                "iteration %d/%d: %d tokens so far (limit %s), $%.4f (limit %s), %s",
                usage.iterations,
                budget.max_iterations,
                usage.total_tokens,
                budget.max_total_tokens,
                usage.cost_usd,
                budget.max_cost_usd,
                f"{len(completion.tool_calls)} tool call(s)" if completion.tool_calls else "final answer",
            )

        run = SkillRun(
            skill=skill,
            prompt=plan.prompt,
            work_dir=work_dir,
            transcript_path=work_dir / "transcript.jsonl",
            tool_names=self.tools,
            max_repairs=int(self.max_repairs),
            secrets=secrets,
            on_iteration=on_iteration,
            mode=plan.mode,
            result_schema=plan.result_schema,
            replay=replay,
            extra_tools=plan.tools,
            http_policy=plan.http_policy,
        )
        payload: dict[str, Any] = {
            "result": None,
            "usage": meter.usage.as_dict(),
            "artifact": str(work_dir),
            "model": client.model,
        }
        outcome, stopped_cap = metrics.ERROR, None
        try:
            if plan.answer is not None:
                self.log.info("%s; no model call made", plan.answer_reason)
                answer = plan.answer
            else:
                outcome = run_skill(run, client, meter)
                answer = outcome.result.model_dump(mode="json", by_alias=True)
                payload["model"] = outcome.model
            result = self.finish(answer, plan, work_dir, context)
            # The skill's contract is the last word, whatever the mode produced.
            result = parse_result_dict(result, skill.result_model())
            _check_not_empty(skill.empty_field, result, self.allow_empty)
            outcome = metrics.SUCCESS
        except BaseException as exc:  # AirflowTaskTimeout is a BaseException, and its spend counts too
            if isinstance(exc, BudgetExceeded):
                outcome, stopped_cap = metrics.BUDGET_STOP, exc.cap
            elif isinstance(exc, ContractViolation):
                outcome = metrics.CONTRACT_FAILURE
            # The task log renders the whole chain, an endpoint's error body included.
            scrub_exception(exc, secrets)
            payload["usage"] = meter.usage.as_dict()
            payload["error"] = scrub(f"{type(exc).__name__}: {exc}", secrets)[:1000]
            context["ti"].xcom_push(key="usage", value=payload)
            raise
        finally:
            spend.save(meter.usage, meter.elapsed_s, replay.entries)
            client.close()
            if replay.replayed:
                self.log.info(
                    "Replayed %d model call(s) of earlier tries without calling the model", replay.replayed
                )
            log_run_summary(self.log, budget, meter, run.tool_sequence)
            used = metrics.this_try(meter.usage, spent_before)
            metrics.agent_try(self.dag_id, self.task_id, used, outcome, cap=stopped_cap)
        # Every string scrubbed: XCom is readable by anyone who can see the run.
        payload.update(result=scrub_json(result, secrets), usage=meter.usage.as_dict())
        context["ti"].xcom_push(key="usage", value=payload["usage"])
        return payload


@dataclass
class RunPlan:
    """One run's request to the model, as a subclass's `prepare` shapes it."""

    prompt: str
    mode: Literal["loop", "structured"] | None = None
    result_schema: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None  # set to skip the model (nothing to judge, or already done)
    answer_reason: str = "Nothing for the model to judge this run"  # logged when `answer` is set
    data: dict[str, Any] = field(default_factory=dict)  # whatever `finish` needs from `prepare`
    tools: list[Tool] = field(default_factory=list)  # the job's own read-only tools (loop mode)
    http_policy: HttpPolicy | None = None  # the job's own URL prefixes for http_get (its spec)


def _check_caps_enforceable(budget: Budget, reports_usage: bool, has_prices: bool, model: str) -> None:
    """Refuse a cap that could never trip rather than run without it."""
    if not reports_usage and (budget.max_total_tokens or budget.max_cost_usd):
        raise PermanentAgentError(
            "the LLM connection says its endpoint does not report usage, so max_total_tokens and "
            "max_cost_usd cannot be enforced; set both to None or use an endpoint that reports usage"
        )
    if budget.max_cost_usd and not has_prices:
        raise PermanentAgentError(
            f"max_cost_usd is set but the LLM connection has no price for model {model!r}; add it "
            "to the connection's prices extra, e.g. {\"" + model + '": {"input": 0.15, "output": 0.6}}'
        )


def _check_not_empty(empty_field: str | None, result: dict[str, Any], allow_empty: bool) -> None:
    if empty_field is None or allow_empty:
        return
    if result.get(empty_field) == 0:
        raise EmptyResult(
            f"the result's {empty_field!r} is 0 and this job does not allow empty results; "
            "pass allow_empty=True if an empty day is normal"
        )


__all__ = ["AgentOperator", "ContractViolation", "EmptyResult"]

"""AgentOperator: run one skill under hard caps and push a small, parsed result to XCom."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from airflow.sdk import BaseOperator

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.agent.caps import Caps
from agentjobs.agent.errors import (
    ContractViolation,
    EmptyResult,
    PermanentAgentError,
    WaitRequested,
)
from agentjobs.hooks import DEFAULT_LLM_CONN_ID
from agentjobs.lazy_names import forwarded
from agentjobs.operators.base_init import init_base
from agentjobs.operators.retry import permanent_failures_end_the_task, with_retry_policy

if TYPE_CHECKING:
    from airflow.sdk.exceptions import TaskDeferred
    from pydantic import BaseModel

    from agentjobs.agent.budget import BudgetMeter, Prices, Usage
    from agentjobs.agent.failover import Failover
    from agentjobs.agent.model_client import Completion
    from agentjobs.agent.plan import RunPlan
    from agentjobs.agent.replay import ReplayCache
    from agentjobs.agent.skills import Skill
    from agentjobs.agent.tools import Tool
    from agentjobs.agent.toolset import ToolLike, Toolset
    from agentjobs.agent.tracing import RunTracer
    from agentjobs.operators.spend_store import SpendStore

# A wait for the connection's rate limiter at least this long defers the task to the triggerer,
# freeing its worker slot; a shorter one is slept in the task, cheaper than a deferral's round
# trip through the triggerer and the scheduler (a few seconds each way).
DEFER_WAITS_FROM_S = 5.0
RESUME_METHOD = "resume_after_wait"


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class _Try(NamedTuple):
    """What one try of an agent task runs with, from Airflow's side, and closes at its end: the
    caps as rendered, the endpoints and their secrets, the task state store with the budget and
    paid answers resumed from it (and the spend before this try, for its metrics), the tracer."""

    caps: Caps
    failover: Failover
    secrets: list[str]
    spend: SpendStore
    meter: BudgetMeter
    replay: ReplayCache
    spent_before: Usage
    tracer: RunTracer | None


class AgentOperator(BaseOperator):
    """
    Run an agent under hard caps: a skill's, pushing ``{"result", "usage", "artifact", "model"}``,
    or one written in the DAG (``system_prompt``, ``output_type``, ``tools``), pushing its result.

    **Budget scope.** The ``caps`` (``agentjobs.agent.caps.Caps``: iterations, tokens, cost,
    time, the prompt of one call) bound the *whole task instance across its retries*: what earlier tries
    spent is kept in Airflow's task state store and a retry starts from there. A clear
    from the UI (or ``airflow tasks clear``) starts a fresh budget. Crossing a cap raises
    ``BudgetExceeded``; a broken output contract raises ``ContractViolation`` after
    ``max_repairs`` repair turns. Neither uses up retries (see ``operators.retry``);
    429/5xx/timeouts retry, 400/401/403 fail at once.

    The transcript (JSON lines) goes to ``<work_dir>/transcript.jsonl``; XCom gets only
    the small dict. ``usage`` is pushed under the XCom key ``usage`` on failure too.

    :param skill: name of a folder in ``skills_dir`` (or a path relative to it; nothing outside it).
        None: the agent is written in the DAG; its instructions are ``system_prompt``, it is offered
        only the tools given, and the XCom return value is the result itself (the model's JSON as
        a dict) instead of the small dict; its work folder is the run's folder's ``<task_id>``.
    :param prompt: the task's prompt (templated).
    :param system_prompt: the instructions of an agent without a skill (templated).
    :param output_type: a pydantic model of the answer: the model is shown its JSON schema and its
        answer is validated by it (the model's own validation, repaired up to ``max_repairs``
        times, then ``ContractViolation``). With a skill it replaces the skill's ``result_schema``.
    :param llm_conn_id: an ``agentjobs_llm`` connection (templated, e.g. ``"{{ params.llm }}"``).
    :param model: overrides the connection's default model (templated).
    :param fallback_conn_ids: ``agentjobs_llm`` connections asked in order, each with its own
        model, options, rate limiter and prices, when the primary fails in a way another endpoint
        may not: unreachable, a 5xx, a 429 its waits do not clear, a request timeout. The same call
        moves on, under the same caps; 400/401/403, a broken contract or a spent cap never move.
        ``usage`` then names the connection that answered (``answered_by``) and each move
        (``failovers``: ``from``, ``to``, ``model``, ``reason``). Templated.
    :param tools: what the agent may call. Names (``"read_file"``) narrow the built-in tools (by
        default: all the skill allows; without a skill: none). Typed Python functions (their
        docstring and annotations describe them to the model), ``agentjobs.agent.tools.Tool``s and
        toolsets (``agentjobs.agent.toolset.Toolset``: opened when the run starts, closed after)
        are offered as given. Two tools of one name fail the task before any call.
    :param work_dir: the run's work directory (templated); default
        ``$AGENTJOBS_ARTIFACT_BASE/<dag_id>/<logical date>``, or with ``[agentjobs] run_files``
        set, a scratch copy of that folder pulled from the store and pushed back after
        (operators/run_files.py; a ``work_dir`` outside the artifact base is not synced).
    :param allow_empty: accept a result whose item count (the skill's ``empty_field``) is 0.
    :param defer_waits_from_s: with a rate limit on the connection, a wait for it at least this
        long (default ``DEFER_WAITS_FROM_S``, 5 s) defers the task to the triggerer instead of
        holding a worker slot; back from it, the task replays the calls it already made (no call
        paid twice, caps counted once, the wait counted toward ``timeout_s``). None: always sleep.
    :param caps: the run's caps (templated): a ``Caps``, a mapping of the caps to change from
        the defaults (``{"max_cost_usd": 0.5}``, values may be templates), or a template
        rendering one as JSON (``"{{ params.caps | tojson }}"``). Validated once: when the DAG
        is parsed if nothing in it is templated, else when the task runs.
    """

    template_fields: Sequence[str] = (
        "prompt",
        "model",
        "work_dir",
        "caps",
        "max_repairs",
        "allow_empty",
        "llm_conn_id",
        "fallback_conn_ids",
        "system_prompt",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"prompt": "md", "system_prompt": "md"}
    ui_color = "#e8f0fe"
    # A toolset may hold what cannot be deep-copied (a client, a lock): copies of the task share it,
    # as it is opened only when the run starts.
    shallow_copy_attrs: Sequence[str] = ("agent_tools", "toolsets")

    def __init__(
        self,
        *,
        skill: str | None = None,
        prompt: str,
        system_prompt: str | None = None,
        output_type: type[BaseModel] | None = None,
        llm_conn_id: str = DEFAULT_LLM_CONN_ID,
        model: str | None = None,
        tools: Sequence[str | ToolLike] | None = None,
        caps: Caps | Mapping[str, Any] | str | None = None,
        max_repairs: int = 1,
        work_dir: str | None = None,
        skills_dir: str | None = None,
        allow_empty: bool = False,
        defer_waits_from_s: float | None = DEFER_WAITS_FROM_S,
        fallback_conn_ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        _refuse_single_caps(kwargs)
        with_retry_policy(kwargs)
        if not _templated(caps):
            # Known now: a bad cap fails the DAG file, not the run.
            caps = Caps.of(caps)
            if caps.timeout_s is not None:
                # The budget's clock stops the loop; execution_timeout is the backstop for a hang
                # outside it (a tool stuck in I/O), so it gets a margin above the budget.
                kwargs.setdefault("execution_timeout", timedelta(seconds=caps.timeout_s + 60))
        if skill is not None and system_prompt is not None:
            raise TypeError(
                f"AgentOperator takes either a skill ({skill!r}: its SKILL.md holds the instructions) "
                "or a system_prompt, not both"
            )
        init_base(self, **kwargs)
        self.skill = skill
        self.prompt = prompt
        self.system_prompt = system_prompt
        self.output_type = _checked_output_type(output_type)
        self.llm_conn_id = llm_conn_id
        self.model = model
        # Split now, so a function the model could not call (an untyped parameter) fails the DAG
        # file, not a run: names narrow the built-ins, the rest is offered as given.
        if isinstance(tools, str):  # one name, not its letters
            raise TypeError(f"tools takes a list, e.g. [{tools!r}]")
        given = [item for item in tools or () if not isinstance(item, str)]
        self.tools = _builtin_names(tools, skill is not None, only_own=bool(given))
        self.agent_tools, self.toolsets = _split_tools(given)
        self.caps = caps
        self.max_repairs = max_repairs
        self.work_dir = work_dir
        self.skills_dir = skills_dir
        self.allow_empty = allow_empty
        self.defer_waits_from_s = defer_waits_from_s
        if isinstance(fallback_conn_ids, str):  # one id, not its letters
            raise TypeError(
                f"fallback_conn_ids takes a list of LLM connection ids, e.g. [{fallback_conn_ids!r}]"
            )
        self.fallback_conn_ids = list(fallback_conn_ids or [])
        self._resumed = False  # set when the triggerer hands the task back after a wait

    def run_caps(self) -> Caps:
        """The caps as rendered: a Caps, a mapping, or JSON text, validated here once."""
        try:
            return Caps.of(self.caps)
        except ValueError as exc:  # the same caps would fail every retry the same way
            raise PermanentAgentError(str(exc)) from None

    def prepare(self, context: Any, skill: Skill, work_dir: Path) -> RunPlan:
        """What to ask the model this run. Subclasses add data, a mode or a run-made schema."""
        from agentjobs.agent.plan import RunPlan  # run time: a DAG parse plans no run

        return RunPlan(prompt=self.prompt)

    def finish(self, result: dict[str, Any], plan: RunPlan, work_dir: Path, context: Any) -> dict[str, Any]:
        """Turn the model's validated answer into the skill's RESULT (default: as it is)."""
        return result

    def resume_after_wait(self, context: Any, event: Any = None) -> Any:
        """Back from the triggerer after a rate limiter's wait: run the task again from `execute`
        (a subclass's too). The calls of this try so far replay from the task state store."""
        self._resumed = True
        return self.execute(context)

    def agent_skill(self) -> Skill:
        """The skill of the run: the skills folder's `skill`, else one made of `system_prompt`."""
        from agentjobs.agent.skills import default_skills_dir, inline_skill, load_skill

        if self.skill is None:
            return inline_skill(self.task_id, self.system_prompt)
        return load_skill(self.skill, Path(self.skills_dir) if self.skills_dir else default_skills_dir())

    def wait_elsewhere(self, wait: WaitRequested) -> BaseException:
        """What a long wait for the rate limiter becomes: a deferral to the triggerer, the worker
        slot free meanwhile. A chunk's team is set aside instead (operators/team_chunk.py)."""
        self.log.info("%s: deferring to the triggerer rather than holding a worker slot", wait)
        return wait_deferral(wait.wait_s, datetime.now(UTC))

    def work_folder(self, context: Any) -> Path:
        """The folder the agent works in: `work_dir` when given, else the run's folder; an agent
        without a skill gets a folder of its own in it (`<task_id>`, and `<map_index>` when
        mapped), as a DAG may hold several, each with its transcript."""
        from agentjobs.operators.artifacts import run_dir

        if self.work_dir:
            return Path(self.work_dir)
        if self.skill is not None:
            return run_dir(context)
        folder = run_dir(context) / self.task_id
        map_index = getattr(context.get("ti"), "map_index", -1)
        return folder / str(map_index) if isinstance(map_index, int) and map_index >= 0 else folder

    def run_folders(self, context: Any) -> list[Path]:
        """The run folders this task reads and writes, pulled from the run-file store before it
        works and pushed back after (operators/run_files.py), when one is configured."""
        return [self.work_folder(context)]

    def execute(self, context: Any) -> dict[str, Any]:
        from agentjobs.agent.scrub import scrubbed_errors
        from agentjobs.operators.run_files import task_files  # run-time: a parse needs none

        # Set-up errors (connection, skill, sources) reach the log and the alert scrubbed too.
        with (
            permanent_failures_end_the_task(),
            scrubbed_errors(),
            task_files(lambda: self.run_folders(context), context),
        ):
            return self.run_agent(context)

    def run_agent(self, context: Any) -> dict[str, Any]:
        """The task's work, in its run folder. Subclasses add what goes before or after the run."""
        return self._run(context)

    def _run(self, context: Any) -> dict[str, Any]:
        # Airflow's side of the run, step by step: the context, the connections, the task state
        # store, XCom and metrics. What the run itself must obey is the agent runtime's
        # (agent/runner.py). Imported here, not at the top: every parse of the jobs DAG file
        # imports this module, and the model client, the agent loop and the hook are only needed
        # when a task runs.
        from agentjobs.agent.runner import run_usage
        from agentjobs.operators.run_files import recorded

        skill = self.agent_skill()
        work_dir = self.work_folder(context)
        work_dir.mkdir(parents=True, exist_ok=True)
        plan = self.prepare(context, skill, work_dir)
        attempt = self._start_try(context, skill.name)
        run = self._bind(plan, skill, work_dir, attempt)
        payload: dict[str, Any] = {
            "result": None,
            "usage": attempt.meter.usage.as_dict(),
            "artifact": recorded(work_dir),
            "model": attempt.failover.current.client.model,
        }
        result = self._answer(run, attempt, payload, context)
        payload.update(result=result, usage=run_usage(attempt.meter, attempt.failover, attempt.secrets))
        context["ti"].xcom_push(key="usage", value=payload["usage"])
        # A skill's job reads the small dict; an agent written in the DAG hands on its answer.
        return payload if self.skill is not None else result

    def _start_try(self, context: Any, agent_name: str) -> _Try:
        """What this try runs with: the caps as rendered (a cap named outside them in the run's
        conf refused), the endpoints, the budget and paid answers of earlier tries, the tracer."""
        from agentjobs.operators.tracing import run_tracer

        _refuse_single_cap_conf(context, self.dag.params if self.has_dag() else {})
        caps = self.run_caps()
        failover, secrets = self._endpoints(caps)
        spend, meter, replay, spent_before = self._resume(context, caps, failover.current.prices)
        tracer = run_tracer(context, agent_name, secrets)
        return _Try(caps, failover, secrets, spend, meter, replay, spent_before, tracer)

    def _bind(self, plan: RunPlan, skill: Skill, work_dir: Path, attempt: _Try) -> RunPlan:
        """The job's plan bound to this task's settings and this try's endpoints, budget and store."""
        transcript = work_dir / "transcript.jsonl"
        return plan.bind(
            skill,
            work_dir,
            transcript_path=transcript,
            tool_names=self.tools,
            max_repairs=int(self.max_repairs),
            secrets=attempt.secrets,
            on_iteration=iteration_callback(
                attempt.spend, attempt.meter, attempt.replay, self.log, transcript=transcript
            ),
            replay=attempt.replay,
            defer_waits_from_s=self.defer_waits_from_s,
            failover=attempt.failover if attempt.failover.enabled else None,
            output_type=self.output_type,
            given_tools=self.agent_tools,
            toolsets=self.toolsets,
            tracer=attempt.tracer,
        )

    def _answer(self, run: RunPlan, attempt: _Try, payload: dict[str, Any], context: Any) -> dict[str, Any]:
        """The run's settled RESULT (agent/runner.py: the answer, the job's `finish`, the contract).
        A long wait for the rate limiter goes elsewhere (`wait_elsewhere`); a failure pushes the
        usage and the scrubbed error to XCom first. Whatever ends it, the try is closed."""
        from agentjobs.agent.runner import answer_plan, run_usage, scrub_failure, settle
        from agentjobs.operators import metrics

        if run.answer is not None:
            self.log.info("%s; no model call made", run.answer_reason)
        outcome, stopped_cap = metrics.ERROR, None
        try:
            answer, payload["model"] = answer_plan(run, attempt.failover.current.client, attempt.meter)
            result = settle(
                run,
                answer,
                finish=lambda a: self.finish(a, run, run.folder, context),
                allow_empty=self.allow_empty,
            )
            outcome = metrics.SUCCESS
        except WaitRequested as wait:
            # Not a failure: the spend so far is saved (finally, below) and the task resumes.
            outcome = metrics.DEFERRED
            attempt.spend.mark_deferred(time.time())
            raise self.wait_elsewhere(wait) from None
        except BaseException as exc:  # AirflowTaskTimeout is a BaseException, and its spend counts too
            outcome, stopped_cap = metrics.outcome_of(exc)
            usage = run_usage(attempt.meter, attempt.failover, attempt.secrets)
            payload.update(usage=usage, error=scrub_failure(exc, run.secrets))
            context["ti"].xcom_push(key="usage", value=payload)
            raise
        finally:
            self._end_try(attempt, run.tool_sequence, outcome, stopped_cap)
        return result

    def _end_try(
        self, attempt: _Try, tool_sequence: list[str], outcome: str, stopped_cap: str | None
    ) -> None:
        """However the try ended: its spend and paid answers saved for the next, the endpoints
        closed, the summary logged, its metrics and failovers counted, its spans sent."""
        from agentjobs.operators import metrics
        from agentjobs.operators.run_summary import log_run_summary
        from agentjobs.operators.tracing import flush

        meter, replay, failover = attempt.meter, attempt.replay, attempt.failover
        attempt.spend.save(meter.usage, meter.elapsed_s, replay.entries, replay.texts)
        failover.close()
        if replay.replayed:
            self.log.info(
                "Replayed %d model call(s) of earlier tries without calling the model",
                replay.replayed,
            )
        log_run_summary(self.log, attempt.caps, meter, tool_sequence)
        used = metrics.this_try(meter.usage, attempt.spent_before)
        metrics.agent_try(self.dag_id, self.task_id, used, outcome, cap=stopped_cap)
        for move in failover.moves:
            self.log.warning("Failed over from %s to %s: %s", move["from"], move["to"], move["reason"])
            metrics.failover(self.dag_id, self.task_id, move)
        flush(attempt.tracer)

    def _endpoints(self, caps: Caps) -> tuple[Failover, list[str]]:
        """The run's endpoints in order (the primary, then `fallback_conn_ids`), each its own
        connection's client, options, rate limiter and prices, checked against the caps now
        (agent/runner.py); and every one's secrets. Each is logged once, the HTTP client's line
        per request quieted."""
        from agentjobs.agent.failover import Endpoint, Failover
        from agentjobs.agent.runner import checked_endpoint
        from agentjobs.agent.scrub import scrub
        from agentjobs.hooks.llm import LLMHook

        quiet_http_request_log()
        endpoints: list[Endpoint] = []
        secrets: list[str] = []
        # `model` overrides the primary's model only: each fallback answers with its own.
        for conn_id, model in [(self.llm_conn_id, self.model), *((c, None) for c in self.fallback_conn_ids)]:
            hook = LLMHook(conn_id)
            secrets.extend(hook.settings.secrets)
            client = hook.get_model_client(model)
            endpoints.append(checked_endpoint(caps, client, hook.settings.prices_for(client.model), conn_id))
        for endpoint in endpoints:
            url = scrub(str(endpoint.client.client.base_url))
            self.log.info("Model %s at %s (%s)", endpoint.client.model, url, endpoint.name)
        return Failover(endpoints), secrets

    def _resume(
        self, context: Any, caps: Caps, prices: Prices | None
    ) -> tuple[SpendStore, BudgetMeter, ReplayCache, Usage]:
        """The spend and the paid answers of this task instance's earlier tries (the task state
        store), so a retry starts from them: the meter, the replay cache, and the spend before."""
        from agentjobs.agent.budget import BudgetMeter, Prices
        from agentjobs.agent.replay import ReplayCache  # at run time only, as in _run and its steps
        from agentjobs.operators.spend_store import SpendStore

        spend = SpendStore.from_context(context)
        spent, elapsed_before, kept_calls = spend.load()
        # Taken, not read: a later resume of the same try (a chunk's, whose other teams waited)
        # must not count this wait again.
        deferred_at = spend.take_deferred_at() if self._resumed else None
        if deferred_at is not None:
            # The time cap runs from the try's first start: the deferred wait counts too.
            waited = max(0.0, time.time() - deferred_at)
            elapsed_before += waited
            self.log.info("Resumed after %.1f s deferred for the rate limiter", waited)
        spent_before = dataclasses.replace(spent)  # the meter adds to `spent` in place
        if spent.iterations:
            self.log.info(
                "Resuming the budget of earlier tries: %s; %d model answer(s) kept for replay",
                spent.as_dict(),
                len(kept_calls),
            )
        meter = BudgetMeter(caps, prices or Prices(), usage=spent, elapsed_before_s=elapsed_before)
        return spend, meter, ReplayCache(kept_calls), spent_before


def wait_deferral(wait_s: float, now: datetime) -> TaskDeferred:
    """The deferral of a task that waits `wait_s` seconds from `now`: a DateTimeTrigger (the
    standard provider's) in the triggerer, then `resume_after_wait` on a worker."""
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger
    from airflow.sdk.exceptions import TaskDeferred

    return TaskDeferred(
        trigger=DateTimeTrigger(moment=now + timedelta(seconds=wait_s)), method_name=RESUME_METHOD
    )


def _builtin_names(tools: Sequence[Any] | None, has_skill: bool, only_own: bool) -> list[str] | None:
    """The built-in (and job) tools to offer by name; None: all the skill allows. An agent without
    a skill gets none it does not name; with a skill, a list of only the task's own tools keeps
    the skill's built-ins, and an empty list offers none (as before tools took functions)."""
    names = [item for item in tools or () if isinstance(item, str)]
    if names or not has_skill:
        return names
    return None if tools is None or only_own else names


def _split_tools(items: Sequence[ToolLike]) -> tuple[list[Tool], list[Toolset]]:
    if not items:
        return [], []
    from agentjobs.agent.toolset import split_tools  # builds pydantic models: only for a task with tools

    return split_tools(items)


def _checked_output_type(output_type: Any) -> Any:
    """The output type if it is a pydantic model class; a TypeError naming what to pass if not."""
    if output_type is None:
        return None
    from pydantic import BaseModel  # here: a DAG without an output type does not import pydantic

    if not (isinstance(output_type, type) and issubclass(output_type, BaseModel)):
        raise TypeError(
            f"output_type must be a pydantic model class (class Answer(BaseModel): ...), not {output_type!r}"
        )
    try:  # the model is shown this schema: a type without one fails the DAG file, not every try
        output_type.model_json_schema()
    except Exception as exc:
        raise TypeError(
            f"output_type {output_type.__name__} has no JSON schema to show the model: {exc}"
        ) from exc
    return output_type


def _templated(caps: Any) -> bool:
    """Whether the caps are known only once rendered: a template, or a mapping holding one."""
    if isinstance(caps, Mapping):
        return any(isinstance(value, str) for value in caps.values())
    return isinstance(caps, str)


def _refuse_single_caps(kwargs: dict[str, Any]) -> None:
    """The caps were four arguments of their own once; say where they went rather than let
    BaseOperator refuse an unknown argument."""
    named = [name for name in Caps.model_fields if name in kwargs]
    if named:
        example = ", ".join(f'"{name}": {kwargs[name]!r}' for name in named)
        raise TypeError(
            f"AgentOperator takes its caps as one argument: pass caps={{{example}}} "
            f"instead of {', '.join(named)}"
        )


def _refuse_single_cap_conf(context: Any, declared: Mapping[str, Any]) -> None:
    """A triggered run's conf naming a cap at its top level (`{"max_total_tokens": 300}`, how
    the job DAGs took caps once) would be ignored: fail before any model call and say how."""
    stray = [n for n in Caps.model_fields if n in context.get("params", {}) and n not in declared]
    if stray:
        example = ", ".join(f'"{n}": {context["params"][n]!r}' for n in stray)
        raise PermanentAgentError(
            f"the run's conf names {', '.join(stray)} outside `caps`, where no cap is read; "
            f'trigger with {{"caps": {{{example}}}}} instead'
        )


# The plan's type and the run's usage, for callers that import them from here: their modules
# load when first asked for (a DAG parse asks for neither).
_plan_names = forwarded(__name__, "agentjobs.agent.plan", frozenset({"RunPlan"}))
_runner_names = forwarded(__name__, "agentjobs.agent.runner", frozenset({"run_usage"}))


def __getattr__(name: str) -> Any:
    return _runner_names(name) if name == "run_usage" else _plan_names(name)


__all__ = ["AgentOperator", "ContractViolation", "EmptyResult"]


# Loggers of the model's HTTP client that write a line per request at INFO. Airflow's logging
# config quiets `httpx` as "too chatty even at info"; the openai SDK now sends through `httpx2`,
# which that config does not name, so every model call put an `HTTP Request: POST …` line in
# the task log beside the iteration line, and its formatting was the largest share of what the
# operator added to a call (bench/loop_overhead.py). The endpoint is logged once instead.
CHATTY_HTTP_LOGGERS = ("httpx2",)


def quiet_http_request_log() -> None:
    """Raise the HTTP client's loggers to WARNING, as Airflow does for httpx, unless a logging
    config chose their level: failures still reach the task log, a line per request does not."""
    for name in CHATTY_HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def iteration_callback(
    spend: SpendStore,
    meter: BudgetMeter,
    replay: ReplayCache,
    log: logging.Logger,
    transcript: Path | None = None,
) -> Callable[[Usage, Completion], None]:
    """After each model call: the spend saved for a retry, the transcript pushed to the run-file
    store (if one is configured: a killed try pushes nothing at its end; one put, ~10-20 ms on
    moto, against a model call's seconds), and a line in the task log.
    A module function so bench/loop_overhead.py times this very code."""
    from agentjobs.operators.run_files import push_file

    caps = meter.caps

    def on_iteration(usage: Usage, completion: Completion) -> None:
        spend.save(usage, meter.elapsed_s, replay.entries, replay.texts)
        if transcript is not None:
            push_file(transcript)
        log.info(
            "iteration %d/%d: %d tokens so far (limit %s), $%.4f (limit %s), %s",
            usage.iterations,
            caps.max_iterations,
            usage.total_tokens,
            caps.max_total_tokens,
            usage.cost_usd,
            caps.max_cost_usd,
            f"{len(completion.tool_calls)} tool call(s)" if completion.tool_calls else "final answer",
        )

    return on_iteration


# What an agent subclass's __init__ calls instead of `super().__init__`: AgentOperator's own
# __init__ without the wrapper Airflow puts around each __init__ of the class chain. Every
# wrapper deep-copies the DAG's Params again, so this spares each agent task a copy on every
# DAG parse (bench/dag_parse.py); the subclass's own wrapper has already applied the DAG's
# default_args and Params, and AgentOperator's __init__ hands them to BaseOperator's without
# its wrapper either (operators/base_init.py).
init_agent = AgentOperator.__init__.__wrapped__  # type: ignore[attr-defined]

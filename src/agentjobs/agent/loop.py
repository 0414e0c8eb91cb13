"""The agent loop: call the model, run its tool calls, feed the results back, until a
final answer that meets the contract, or a cap.

Two modes share the budget and the repair rule:
- "loop": function tools, final answer ends with a `RESULT: {json}` line (capable models);
- "structured": no tools, one call constrained to the result's JSON schema (small local
  models that cannot call tools but can follow a grammar).
A contract violation earns at most `max_repairs` extra turns, each counted in the budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel

from agentjobs.agent.budget import BudgetMeter, Usage
from agentjobs.agent.contract import parse_result_line, parse_structured
from agentjobs.agent.errors import (
    ContractViolation,
    RateLimited,
    TransientAgentError,
    WaitRequested,
)
from agentjobs.agent.failover import Endpoint, Failover
from agentjobs.agent.model_client import Completion, ModelClient
from agentjobs.agent.prompt_size import message_tokens, request_tokens
from agentjobs.agent.rate_limit import rate_limit_wait
from agentjobs.agent.replay import ReplayCache, RunningFingerprint
from agentjobs.agent.tools import ToolRegistry
from agentjobs.agent.tracing import RunTracer
from agentjobs.agent.transcript import Transcript
from agentjobs.agent.unicode_text import (
    has_lone_surrogates,
    json_text,
    make_valid_from,
    text_has_lone_surrogates,
    valid_unicode_json,
)

log = logging.getLogger(__name__)

# The field of a kept answer naming the endpoint that gave it, when the run has fallbacks.
ANSWERED_BY_FIELD = "x_agentjobs_answered_by"

Mode = Literal["loop", "structured"]


@dataclass
class AgentResult:
    result: BaseModel
    reply: str
    usage: Usage
    model: str
    tool_sequence: list[str] = field(default_factory=list)


@dataclass
class Agent:
    """A fresh agent for one run. It owns nothing that needs closing; the runner does."""

    client: ModelClient
    meter: BudgetMeter
    tools: ToolRegistry | None = None
    transcript: Transcript = field(default_factory=Transcript)
    max_repairs: int = 1
    secrets: Iterable[str] = ()
    on_iteration: Callable[[Usage, Completion], None] | None = None
    tool_sequence: list[str] = field(default_factory=list)
    replay: ReplayCache | None = None  # answers of an earlier try of the same task
    # A wait of the connection's rate limiter this long or longer raises WaitRequested instead of
    # sleeping, so a runner can park the run (None: always sleep). A shorter one is cheaper slept.
    defer_waits_from_s: float | None = None
    # The run's endpoints in order, the first being `client` (None: `client` alone). A transient
    # failure of one moves the same call to the next (agent/failover.py); `client` is then the
    # endpoint being asked.
    failover: Failover | None = None
    # The run's spans (agent/tracing.py); None: no span is made and the loop pays nothing for it.
    tracer: RunTracer | None = None
    # The counted prompt so far (only with a context cap): the history only grows, so each
    # message is counted once, not the whole history before every call.
    _counted_messages: int = field(default=0, init=False)
    _history_tokens: int = field(default=0, init=False)
    # The replay fingerprint of the history so far, for the same reason (see agent/replay.py).
    _fingerprint: RunningFingerprint | None = field(default=None, init=False)
    # The primary's client: replay keys are its request's, whichever endpoint answered, so a retry
    # (which starts at the primary again) finds what a fallback answered.
    _primary: ModelClient = field(init=False)
    _schema: tuple[str, dict[str, Any]] | None = field(default=None, init=False)
    _sent_max_tokens: int | None = field(default=None, init=False)  # the last call's, after a move

    def __post_init__(self) -> None:
        if self.failover is None:
            self.failover = Failover([Endpoint(self.client, self.meter.prices)])
        self._primary = self.failover.endpoints[0].client
        self.client = self.failover.current.client

    def run(
        self,
        *,
        system: str,
        prompt: str,
        result_model: type[BaseModel],
        mode: Mode = "loop",
        schema_name: str = "result",
        schema: dict[str, Any] | None = None,
    ) -> AgentResult:
        """Run to a valid result. `schema` is the JSON schema sent in structured mode
        (default: the result model's own); the reply is always validated by the model."""
        if self.tracer is None:
            return self._run(system, prompt, result_model, mode, schema_name, schema)
        run = partial(self._run, system, prompt, result_model, mode, schema_name, schema)
        return self.tracer.run(self.client.model, mode, self.meter, run)

    def _run(
        self,
        system: str,
        prompt: str,
        result_model: type[BaseModel],
        mode: Mode,
        schema_name: str,
        schema: dict[str, Any] | None,
    ) -> AgentResult:
        self._counted_messages = self._history_tokens = 0
        self._fingerprint = None
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": prompt},
        ]
        self.transcript.record("start", mode=mode, model=self.client.model, messages=messages)
        if mode == "structured":
            schema = schema if schema is not None else result_model.model_json_schema()
            self._schema = (schema_name, schema)
            response_format = self.client.response_format(schema_name, schema)
            return self._converse(messages, result_model, response_format=response_format)
        return self._converse(messages, result_model, response_format=None)

    def _converse(
        self,
        messages: list[dict[str, Any]],
        result_model: type[BaseModel],
        *,
        response_format: dict[str, Any] | None,
    ) -> AgentResult:
        structured = response_format is not None
        tool_specs = None if structured or self.tools is None else self.tools.specs() or None
        repairs_left = self.max_repairs
        # Feed text, tool output and replies may hold lone surrogates; sent as they are, the
        # request (and its fingerprint) would fail to encode and the run fail with it. The history
        # is this method's own and only grows (nothing edits a message once appended), so each
        # message is checked once, not the whole history before every call.
        checked = 0
        while True:
            checked = make_valid_from(messages, checked)
            completion = self._call(messages, tool_specs, response_format)
            messages.append(completion.assistant_message())
            if completion.tool_calls and not structured:
                self._run_tools(completion, messages)
                continue
            reply = completion.content or ""
            try:
                if structured:
                    result = parse_structured(reply, result_model, secrets=self.secrets)
                else:
                    result = parse_result_line(reply, result_model, secrets=self.secrets)
            except ContractViolation as violation:
                self.transcript.record("contract_violation", error=str(violation))
                if repairs_left <= 0:
                    raise
                repairs_left -= 1
                messages.append({"role": "user", "content": _repair_request(violation, structured)})
                continue
            self.transcript.record("result", result=result.model_dump(mode="json", by_alias=True))
            return AgentResult(
                result=result,
                reply=reply,
                usage=self.meter.usage,
                model=completion.model,
                tool_sequence=list(self.tool_sequence),
            )

    def _complete(
        self,
        messages: list[dict[str, Any]],
        tool_specs: list[dict[str, Any]] | None,
        max_tokens: int | None,
        response_format: dict[str, Any] | None,
    ) -> Completion:
        """One model call within the caps, on the current endpoint, else on the next ones in turn.

        Only a failure of the call itself moves it (the endpoint unreachable, a 5xx, a 429 its
        waits did not clear, a timeout, a malformed reply): a spent cap or a permanent refusal
        raises as it is, and so does a failure of the rate limiter's store ("transient" kind).
        """
        assert self.failover is not None
        response_format = self._current_format(response_format)
        while True:
            self._sent_max_tokens = max_tokens
            try:
                if self.tracer is None:
                    return self._complete_on(messages, tool_specs, max_tokens, response_format)
                return self.tracer.chat(
                    self.client,
                    self.failover.current.label,
                    messages,
                    max_tokens,
                    response_format is not None,
                    partial(self._complete_on, messages, tool_specs, max_tokens, response_format),
                )
            except TransientAgentError as exc:
                if exc.kind == TransientAgentError.kind:
                    raise
                before = self.failover.current.label
                moved = self.failover.move(exc, self.meter)
                if moved is None:
                    raise
                self.client = moved.client
                # The next endpoint's own per-call ceiling, priced with its own model.
                max_tokens = self.meter.clamp_max_tokens(self.client.options.max_tokens_per_call)
                response_format = self._current_format(response_format)
                self.transcript.record("failover", **self.failover.moves[-1])
                log.warning("model endpoint %s failed (%s); asking %s instead", before, exc, moved.label)

    def _current_format(self, response_format: dict[str, Any] | None) -> dict[str, Any] | None:
        """The conversation's response format (the primary's dialect) in the current endpoint's."""
        if response_format is None or self._schema is None or self.client is self._primary:
            return response_format
        return self.client.response_format(*self._schema)

    def _note_answer(self, label: Any) -> None:
        if self.failover is not None and isinstance(label, str):
            self.failover.answered_by = label

    def _complete_on(
        self,
        messages: list[dict[str, Any]],
        tool_specs: list[dict[str, Any]] | None,
        max_tokens: int | None,
        response_format: dict[str, Any] | None,
    ) -> Completion:
        """One model call within the caps on the current endpoint. With its connection's rate
        limiter (client.limiter) the call first waits for its slot and a 429 is waited out until
        the time cap; without one, a 429 with Retry-After is waited out a few times (rate_limit)."""
        limiter = self.client.limiter
        prompt = None
        if self.meter.counts_prompts or (limiter is not None and limiter.counts_tokens):
            prompt = self._prompt_tokens(messages, tool_specs, response_format)
        # What the limiter takes before the call: the prompt as counted and the most it may answer.
        estimate = (prompt or 0) + (max_tokens or 0)
        waits = 0
        while True:
            self.meter.check_before_call(prompt)
            if limiter is not None:
                wait_s = limiter.acquire(estimate)
                if wait_s > 0:
                    self._wait(wait_s, "the rate limiter's next slot")
                    continue
            remaining_s = self.meter.remaining_s()
            timeout_s = self.client.options.request_timeout_s
            if remaining_s is not None:
                timeout_s = min(timeout_s, remaining_s)
            try:
                completion = self.client.complete(
                    messages,
                    tools=tool_specs,
                    max_tokens=max_tokens,
                    response_format=response_format,
                    timeout_s=timeout_s,
                )
            except TransientAgentError as exc:
                wait_s = None
                if isinstance(exc, RateLimited):
                    if limiter is not None and self.meter.remaining_s() is not None:
                        # The limiter is set: the time cap, not a count of waits, bounds them.
                        wait_s = limiter.retry_after_429(exc.retry_after_s)
                    else:
                        wait_s = rate_limit_wait(
                            exc, waits, self.client.options.rate_limit_waits, self.meter.remaining_s()
                        )
                if wait_s is None:
                    # A call cut short by the run's own deadline is the time cap, not a flaky endpoint.
                    self.meter.check_before_call()
                    raise
                waits += 1
                self.transcript.record("rate_limited", wait_s=wait_s, error=str(exc))
                log.info("model endpoint rate-limited the call; asking again in %.1f s", wait_s)
                self._wait(wait_s, "a 429's wait", exc)
                continue
            if limiter is not None:
                limiter.settle(estimate, completion.total_tokens)
            return completion

    def _wait(self, wait_s: float, what: str, cause: Exception | None = None) -> None:
        """Sleep `wait_s`; a wait that would end past the time cap ends the try as RateLimited."""
        remaining = self.meter.remaining_s()
        if remaining is not None and wait_s >= remaining:
            # The endpoint is busy, the budget is not spent: a transient failure, so Airflow's
            # retry asks again later, from the spend and time used so far. Only a cap already
            # reached (the time used up by the call just made) fails for good.
            self.meter.check_before_call()
            raise RateLimited(
                f"{what} is {wait_s:.1f} s away, past the {remaining:.1f} s left of the time cap "
                f"(timeout_s {self.meter.caps.timeout_s:g}): not waited for here; the task's retry "
                "asks again later",
                retry_after_s=wait_s,
            ) from cause
        # Only under a time cap: it bounds the waits across resumes, where a count would start over.
        limit = self.defer_waits_from_s if self.client.limiter is not None else None
        if limit is not None and remaining is not None and wait_s >= limit:
            raise WaitRequested(wait_s, what)
        log.debug("waiting %.2f s for %s", wait_s, what)
        time.sleep(wait_s)

    def _prompt_tokens(
        self,
        messages: list[dict[str, Any]],
        tool_specs: list[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
    ) -> int:
        for message in messages[self._counted_messages :]:
            self._history_tokens += message_tokens(message)
        self._counted_messages = len(messages)
        return self._history_tokens + request_tokens(tool_specs, response_format)

    def _call(
        self,
        messages: list[dict[str, Any]],
        tool_specs: list[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
    ) -> Completion:
        max_tokens = self.meter.clamp_max_tokens(self.client.options.max_tokens_per_call)
        key = None
        if self.replay is not None:
            if self._fingerprint is None:  # tools and response format are fixed for a conversation
                self._fingerprint = RunningFingerprint(
                    self._primary.request_fingerprint_fields([], tool_specs, response_format)
                )
            key = self._fingerprint.of(messages)
            kept = self.replay.find(
                key,
                lambda: self._primary.request_fingerprint_fields(messages, tool_specs, response_format),
            )
            if kept is not None:
                # Paid for and counted by the try that made it: no budget check, no new spend.
                self.replay.replayed += 1
                self.transcript.record("replayed", fingerprint=key, response=kept)
                self._note_answer(kept.get(ANSWERED_BY_FIELD))
                return self.client.from_raw(kept)
        # The tool events since the last call reach the file before the wait, which a kill may cut.
        self.transcript.checkpoint()
        completion = self._complete(messages, tool_specs, max_tokens, response_format)
        max_tokens = self._sent_max_tokens
        assert self.failover is not None
        if self.failover.enabled:
            # Kept with the answer, so a retry that replays it still says who answered.
            completion.raw[ANSWERED_BY_FIELD] = self.failover.current.label
        self._note_answer(self.failover.current.label)
        # The reply's JSON text, made once a call: it is what the surrogate check reads, and the
        # transcript line and the replay cache's save (the task state store) take it as it is
        # rather than each encoding the reply again. None if the reply is not plain JSON.
        text = json_text(completion.raw)
        if has_lone_surrogates(completion.raw) if text is None else text_has_lone_surrogates(text):
            # A reply holding "\ud800" could not be saved for replay (the task state store
            # encodes UTF-8) nor sent back in the next request; the run goes on with U+FFFD.
            completion = self.client.from_raw(valid_unicode_json(completion.raw))
            text = json_text(completion.raw)
        self.transcript.record_encoded(
            "completion",
            None if text is None else {"response": text},
            max_tokens=max_tokens,
            response=completion.raw,
        )
        if self.replay is not None and key is not None:
            self.replay.put(key, completion.raw, text)
        try:
            if completion.prompt_tokens is None or completion.completion_tokens is None:
                self.meter.record_call_without_usage()
            else:
                self.meter.record(
                    completion.prompt_tokens, completion.completion_tokens, completion.total_tokens
                )
        finally:
            # Saved even when this reply crossed a cap: the spend is real either way.
            if self.on_iteration is not None:
                self.on_iteration(self.meter.usage, completion)
        return completion

    def _run_tools(self, completion: Completion, messages: list[dict[str, Any]]) -> None:
        assert self.tools is not None  # tool calls are only offered when tools exist
        for call in completion.tool_calls:
            if self.tracer is None:
                outcome = self.tools.call(call.name, call.arguments)
            else:
                outcome = self.tracer.tool(call, partial(self.tools.call, call.name, call.arguments))
            self.tool_sequence.append(call.name if outcome.ok else f"{call.name}!")
            self.transcript.record(
                "tool", name=call.name, arguments=call.arguments, ok=outcome.ok, result=outcome.content
            )
            messages.append({"role": "tool", "tool_call_id": call.id, "content": outcome.content})


def _repair_request(violation: ContractViolation, structured: bool) -> str:
    if structured:
        return (
            f"Your reply broke the output contract: {violation}\n"
            "Answer again with only the JSON object that matches the schema."
        )
    return (
        f"Your final answer broke the output contract: {violation}\n"
        "Answer again; end with exactly one line `RESULT: {json}` and nothing after it."
    )

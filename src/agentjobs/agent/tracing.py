"""OpenTelemetry spans of one agent run, after the GenAI semantic conventions.

One `invoke_agent <skill>` span per run, under it one `chat <model>` span per model call (a call
that fails over gets a span per endpoint asked) and one `execute_tool <tool>` span per tool call.
The spans carry what a dashboard sums and filters on: the operation, the provider, the models
asked and answering, tokens in and out, finish reasons, tool names and call ids, and errors as
the span's status plus `error.type`.

No prompt, reply, tool argument or tool result is put on a span unless the run opts in
(`content=True`): they hold the business's data. Opted in, each is scrubbed of the run's secrets
(agent/scrub.py) before it is set, since a trace backend is read by more people than a task log.

Only opentelemetry-api is used here, and only once a run is given a tracer: without one the loop
makes no span and pays nothing (the Airflow side decides whether a run is traced).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from agentjobs.agent.errors import WaitRequested
from agentjobs.agent.scrub import scrub, scrub_json

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from agentjobs.agent.budget import BudgetMeter
    from agentjobs.agent.model_client import Completion, ModelClient, ToolCall
    from agentjobs.agent.tools import ToolOutcome

T = TypeVar("T")

# The client speaks the OpenAI chat completions API whatever serves it; the conventions ask for
# the instrumentation's best knowledge, which for an OpenAI client is "openai".
PROVIDER = "openai"
ERROR_TEXT_LIMIT = 300  # characters of a failure kept as the span's status description


@dataclass
class RunTracer:
    """The spans of one agent run. `attributes` go on the run span (e.g. the Airflow task's ids)."""

    tracer: Tracer
    agent_name: str
    content: bool = False
    secrets: Sequence[str] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # This run's own totals (the budget meter's also hold earlier tries): set on the run span.
    input_tokens: int = field(default=0, init=False)
    output_tokens: int = field(default=0, init=False)
    calls: int = field(default=0, init=False)
    response_model: str | None = field(default=None, init=False)

    def run(self, model: str, mode: str, meter: BudgetMeter, body: Callable[[], T]) -> T:
        """`body` (the whole run) inside the `invoke_agent` span, the run's totals set at its end
        (the meter's cost, less what earlier tries of the task had spent)."""
        from opentelemetry.trace import SpanKind

        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.system": PROVIDER,  # the attribute's name before provider.name, still read
            "gen_ai.agent.name": self.agent_name,
            "gen_ai.request.model": model,
            "gen_ai.output.type": "json",
            "agentjobs.mode": mode,
            **self.attributes,
        }
        cost_before = meter.usage.cost_usd
        self.input_tokens = self.output_tokens = self.calls = 0
        self.response_model = None
        with self._span(f"invoke_agent {self.agent_name}", SpanKind.INTERNAL, attributes) as span:
            try:
                return body()
            finally:
                span.set_attribute("gen_ai.usage.input_tokens", self.input_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", self.output_tokens)
                span.set_attribute("agentjobs.model_calls", self.calls)
                span.set_attribute("agentjobs.cost_usd", round(meter.usage.cost_usd - cost_before, 6))
                if self.response_model is not None:
                    span.set_attribute("gen_ai.response.model", self.response_model)

    def chat(
        self,
        client: ModelClient,
        endpoint: str,
        messages: list[dict[str, Any]],
        max_tokens: int | None,
        structured: bool,
        call: Callable[[], Completion],
    ) -> Completion:
        """One model call (`call`, its rate-limit waits included) inside a `chat <model>` span."""
        from opentelemetry.trace import SpanKind

        url = client.client.base_url
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.system": PROVIDER,
            "gen_ai.request.model": client.model,
            "gen_ai.output.type": "json" if structured else "text",
            "server.address": url.host,
            "agentjobs.endpoint": endpoint,
        }
        if url.port is not None:
            attributes["server.port"] = url.port
        if max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = max_tokens
        if self.content:
            attributes["gen_ai.input.messages"] = self._json(input_messages(messages))
        with self._span(f"chat {client.model}", SpanKind.CLIENT, attributes) as span:
            completion = call()
            self._answered(span, completion)
            return completion

    def _answered(self, span: Span, completion: Completion) -> None:
        self.calls += 1
        self.response_model = completion.model
        span.set_attribute("gen_ai.response.model", completion.model)
        response_id = completion.raw.get("id")
        if isinstance(response_id, str):
            span.set_attribute("gen_ai.response.id", response_id)
        if completion.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [completion.finish_reason])
        if completion.prompt_tokens is not None:
            self.input_tokens += completion.prompt_tokens
            span.set_attribute("gen_ai.usage.input_tokens", completion.prompt_tokens)
        if completion.completion_tokens is not None:
            self.output_tokens += completion.completion_tokens
            span.set_attribute("gen_ai.usage.output_tokens", completion.completion_tokens)
        if self.content:
            span.set_attribute("gen_ai.output.messages", self._json([output_message(completion)]))

    def tool(self, call: ToolCall, run: Callable[[], ToolOutcome]) -> ToolOutcome:
        """One tool call inside an `execute_tool <tool>` span; a refused or failed call is an error."""
        from opentelemetry.trace import SpanKind, StatusCode

        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
        }
        if self.content:
            attributes["gen_ai.tool.call.arguments"] = self._text(call.arguments)
        with self._span(f"execute_tool {call.name}", SpanKind.INTERNAL, attributes) as span:
            outcome = run()
            if self.content:
                span.set_attribute("gen_ai.tool.call.result", self._text(outcome.content))
            if not outcome.ok:
                # The model sees the failure and may recover: the run goes on, the span says so.
                span.set_attribute("error.type", "tool_error")
                span.set_status(StatusCode.ERROR)
            return outcome

    def _text(self, text: str) -> str:
        return scrub(text, self.secrets)

    def _json(self, value: Any) -> str:
        # Scrubbed before encoding: a secret escaped inside a JSON string would not match itself.
        return json.dumps(scrub_json(value, self.secrets), ensure_ascii=False)

    @contextmanager
    def _span(self, name: str, kind: Any, attributes: dict[str, Any]) -> Iterator[Span]:
        """A current span that ends with the block. An exception sets the status and `error.type`
        (its text scrubbed, no traceback: an endpoint's error body may quote the request), except a
        wait for the rate limiter, which parks the run rather than fails it."""
        from opentelemetry.trace import StatusCode

        with self.tracer.start_as_current_span(
            name, kind=kind, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield span
            except WaitRequested as wait:
                span.set_attribute("agentjobs.wait_s", round(wait.wait_s, 3))
                raise
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(StatusCode.ERROR, self._text(str(exc))[:ERROR_TEXT_LIMIT])
                raise


def input_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat completion messages in the conventions' input-messages form (role and parts)."""
    converted = []
    for message in messages:
        parts: list[dict[str, Any]] = []
        if message.get("role") == "tool":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": message.get("tool_call_id"),
                    "response": message.get("content"),
                }
            )
        elif message.get("content"):
            parts.append({"type": "text", "content": message["content"]})
        for call in message.get("tool_calls") or ():
            function = call.get("function", {})
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments"),
                }
            )
        converted.append({"role": message.get("role"), "parts": parts})
    return converted


def output_message(completion: Completion) -> dict[str, Any]:
    """The reply in the conventions' output-message form."""
    parts: list[dict[str, Any]] = []
    if completion.content:
        parts.append({"type": "text", "content": completion.content})
    for call in completion.tool_calls:
        parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
    return {"role": "assistant", "parts": parts, "finish_reason": completion.finish_reason or "stop"}

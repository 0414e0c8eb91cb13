"""One chat-completions call, with the endpoint's errors sorted into transient and permanent.

The agent loop talks to the model only through `ModelClient.complete`, so the rules about
usage, timeouts and error classes live in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from agentjobs.agent.errors import ModelRequestError, RateLimited, TransientAgentError

if TYPE_CHECKING:
    import openai

    from agentjobs.agent.rate_limiter import RateLimiter

StructuredDialect = Literal["json_schema", "json_object_schema"]
MaxTokensParam = Literal["max_tokens", "max_completion_tokens"]


@dataclass(frozen=True)
class EndpointOptions:
    """What the endpoint speaks; comes from the LLM connection's extra."""

    # OpenAI, vLLM and llama-server take response_format={"type": "json_schema", ...};
    # llama-cpp-python's server wants {"type": "json_object", "schema": ...} instead.
    structured_dialect: StructuredDialect = "json_schema"
    # OpenAI's reasoning models only take max_completion_tokens; most other servers max_tokens.
    max_tokens_param: MaxTokensParam = "max_tokens"
    # Some gateways drop the usage block; budgets on tokens and cost then cannot be enforced.
    reports_usage: bool = True
    request_timeout_s: float = 120.0
    max_tokens_per_call: int | None = 4096
    # A 429 with Retry-After is waited out in the task this many times a call (each wait at most
    # MAX_RATE_LIMIT_WAIT_S and within the time cap) before it fails the try; 0 turns it off.
    rate_limit_waits: int = 3
    # How often a waiting `mode: batch` run asks the endpoint whether its batch is done: OpenAI's
    # take minutes to hours, a self-hosted batch endpoint may answer within seconds.
    batch_poll_s: float = 60.0


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Completion:
    content: str | None
    tool_calls: list[ToolCall]
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    model: str
    raw: dict[str, Any] = field(repr=False)

    def assistant_message(self) -> dict[str, Any]:
        """The reply as a message to append to the conversation.

        A tool-call turn without text carries no `content`, as the API defines it (required unless
        `tool_calls` is given) and as the SDK's own message dumps: an empty `content` on every such
        turn made the SDK's request building, which walks the whole history each call, a fifth slower.
        """
        message: dict[str, Any] = {"role": "assistant"}
        if self.content or not self.tool_calls:
            message["content"] = self.content or ""
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return message


_PERMANENT_STATUS = {400, 401, 403, 404, 409, 413, 422}


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _error_summary(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") if isinstance(body.get("message"), str) else None
    return f"HTTP {exc.status_code}: {message or exc.message}"[:500]


def endpoint_address(base_url: str) -> str:
    """Host and path of a base URL: no user, password or query, where a key could hide."""
    parts = urlsplit(base_url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}".rstrip("/")


class ModelClient:
    """A thin wrapper over `openai.OpenAI` for one model on one endpoint.

    `limiter` is the connection's shared rate limiter (None: no limits configured); the agent
    loop consults it before each call (agent/rate_limiter.py).
    """

    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        options: EndpointOptions | None = None,
        limiter: RateLimiter | None = None,
        where: str = "",
    ) -> None:
        self.client = client
        self.model = model
        self.options = options or EndpointOptions()
        self.limiter = limiter
        # Names the endpoint and the setting that points at it, for "cannot reach" (never a key).
        self.where = where or endpoint_address(str(client.base_url))

    def close(self) -> None:
        self.client.close()

    def response_format(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        if self.options.structured_dialect == "json_object_schema":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Completion:
        """Make one call. Raises TransientAgentError or ModelRequestError, nothing else from openai."""
        # Imported here, not at the top: the SDK takes ~0.7 s to import, and DAG files (parsed
        # by the DAG processor and again by every task) import the operators that import this.
        import openai

        kwargs = self._request(messages, tools, max_tokens)
        if response_format is not None:
            # extra_body passes the llama.cpp dialect through the SDK's typed parameter untouched.
            kwargs["extra_body"] = {"response_format": response_format}
        timeout = self.options.request_timeout_s if timeout_s is None else timeout_s
        try:
            response = self.client.chat.completions.create(**kwargs, timeout=max(timeout, 0.001))
        except openai.APITimeoutError as exc:
            raise TransientAgentError(f"model call timed out after {timeout:.1f}s", kind="timeout") from exc
        except openai.APIConnectionError as exc:
            raise TransientAgentError(
                f"cannot reach the model endpoint {self.where}: {exc}", kind="connection"
            ) from exc
        except openai.APIStatusError as exc:
            if exc.status_code == 429:
                raise RateLimited(_error_summary(exc), _retry_after(exc)) from exc
            if exc.status_code >= 500 or exc.status_code == 408:
                summary, wait = _error_summary(exc), _retry_after(exc)
                raise TransientAgentError(summary, wait, kind="server_error") from exc
            if exc.status_code in _PERMANENT_STATUS:
                raise ModelRequestError(_error_summary(exc)) from exc
            raise ModelRequestError(_error_summary(exc)) from exc
        except (openai.APIResponseValidationError, json.JSONDecodeError, ValueError) as exc:
            # A gateway's HTML error page or a truncated body: usually gone on the next try.
            message = f"malformed response from the model endpoint: {exc}"
            raise TransientAgentError(message, kind="malformed") from exc
        return self._parse(response)

    def request_body(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON body `complete` sends for these arguments: what a Batch API line carries, so a
        batched request is the online call, not a look-alike (agent/batch_request.py)."""
        body = self._request(messages, tools, max_tokens)
        if response_format is not None:
            body["response_format"] = response_format
        return body

    def _request(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, max_tokens: int | None
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0}
        if tools:
            kwargs["tools"] = tools
        if max_tokens is not None:
            kwargs[self.options.max_tokens_param] = max_tokens
        return kwargs

    def request_fingerprint_fields(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """What makes two calls the same call. Not max_tokens nor the timeout: both shrink with
        the budget a retry starts from, and they bound an answer rather than change the question."""
        return {
            "model": self.model,
            "messages": messages,
            "tools": tools,
            "response_format": response_format,
        }

    def from_raw(self, raw: dict[str, Any]) -> Completion:
        """A Completion from a response kept earlier (see agentjobs.agent.replay)."""
        from openai.types.chat import ChatCompletion

        return self._parse(ChatCompletion.model_validate(raw))

    def _parse(self, response: Any) -> Completion:
        if not getattr(response, "choices", None):
            raise TransientAgentError("model endpoint returned no choices", kind="malformed")
        choice = response.choices[0]
        message = choice.message
        tool_calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "")
            for c in (message.tool_calls or [])
            if getattr(c, "function", None) is not None
        ]
        usage = response.usage
        if usage is None and self.options.reports_usage:
            raise ModelRequestError(
                "the model endpoint returned no `usage`, so tokens and cost cannot be counted; "
                "if this endpoint never reports usage, set reports_usage=false in the LLM connection "
                "(token and cost caps are then refused)"
            )
        return Completion(
            content=message.content,
            tool_calls=tool_calls,
            finish_reason=choice.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            total_tokens=usage.total_tokens if usage else None,
            model=response.model or self.model,
            raw=response.model_dump(mode="json", exclude_none=True),
        )

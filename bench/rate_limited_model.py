"""A loopback OpenAI-compatible model that enforces a requests-per-minute limit, for the benchmarks.

It is tests/fakes/model_server.py's scripted server with one answer for every request: a
token bucket of capacity `burst` refilled at `rpm / 60` tokens a second admits a request when
a token is there and answers 429 with Retry-After (the seconds until the next token) when not.
With the default capacity 1 (no burst, as an endpoint that enforces its RPM per second does)
any two admitted requests are at least 60/rpm seconds apart, so no run can beat the limit
and "achieved / limit" is a fraction of what the endpoint allows.
An admitted request is held `hold_s` seconds before its answer, as a real model takes time.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakes.model_server import RecordedRequest, ScriptedModelServer, Step, error, reply, respond, slow

Answer = Callable[[RecordedRequest], Step]


@dataclass
class Traffic:
    """What the server saw, in time.monotonic() seconds."""

    served: list[float] = field(default_factory=list)
    rejected: list[float] = field(default_factory=list)  # 429s

    def requests_per_minute(self) -> float | None:
        """Served requests a minute from the first to the last served one (None: fewer than two)."""
        if len(self.served) < 2 or self.served[-1] <= self.served[0]:
            return None
        return (len(self.served) - 1) * 60.0 / (self.served[-1] - self.served[0])


def weekly_insights_answer(request: RecordedRequest) -> Step:
    """A valid structured weekly_insights answer: the first metrics the request's schema offers."""
    body = request.body or {}
    try:
        schema = body["response_format"]["json_schema"]["schema"]["properties"]["findings"]
        metrics = schema["items"]["properties"]["metric"]["enum"]
        count = max(int(schema.get("minItems", 3)), min(3, int(schema.get("maxItems", 3))))
    except (KeyError, TypeError, ValueError):
        return error(400, "the benchmark's model answers structured weekly_insights requests only")
    findings = [{"metric": metric, "comment": "Worth a look"} for metric in metrics[:count]]
    return reply(json.dumps({"findings": findings}), prompt_tokens=400, completion_tokens=60)


class RateLimitedModel:
    def __init__(
        self, rpm: float, hold_s: float, answer: Answer = weekly_insights_answer, burst: int = 1
    ) -> None:
        self.rpm = rpm
        self.burst = burst
        self.hold_s = hold_s
        self.answer = answer
        self.server = ScriptedModelServer()
        self.traffic = Traffic()
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._refilled = time.monotonic()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def start(self) -> RateLimitedModel:
        self.server.start()
        self.server.default_step = respond(self._handle)
        return self

    def stop(self) -> None:
        self.server.stop()

    def reset(self) -> Traffic:
        """A fresh count and a full bucket (between the runs of a sweep); returns the old count."""
        with self._lock:
            old, self.traffic = self.traffic, Traffic()
            self._tokens, self._refilled = float(self.burst), time.monotonic()
        self.server.requests.clear()  # the recorded bodies are not needed and would pile up
        return old

    def _handle(self, request: RecordedRequest) -> Step:
        rate = self.rpm / 60.0
        with self._lock:
            now = time.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._refilled) * rate)
            self._refilled = now
            if self._tokens < 1.0:
                self.traffic.rejected.append(now)
                wait = math.ceil((1.0 - self._tokens) / rate)
                return error(429, "Rate limit reached for requests per minute", retry_after=wait)
            self._tokens -= 1.0
            self.traffic.served.append(now)
        return slow(self.hold_s, self.answer(request))

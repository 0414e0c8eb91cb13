"""One side of bench/loop_overhead.py in a process of its own: the bare SDK, the agentjobs
runtime as a library, or that runtime configured as AgentOperator configures it.

    python bench/support/loop_worker.py bare|agentjobs|operator BASE_URL [CALLS_A_CONVERSATION]

It prints `ready` once set up (and warmed up by one conversation), then for each `run N`
line on stdin holds N conversations and prints one JSON line:
{"seconds": ..., "cpu_seconds": ..., "calls": ...}. The timed part is the conversations only,
not the interpreter's start or imports; CPU time is this process's own (the server runs in
another), so it is the client's work alone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import openai  # noqa: E402
from bench.support.loop_script import (  # noqa: E402
    ADD_TOOL,
    API_KEY,
    CONVERSATION_CALLS,
    MAX_TOKENS,
    REQUEST_TIMEOUT_S,
    USER_PROMPT,
    add,
    model_for,
    system_prompt,
)


def bare_conversation(client: openai.OpenAI, system: str, model: str) -> int:
    """The same conversation with the openai client in a hand-written tool loop."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": USER_PROMPT},
    ]
    calls = 0
    while True:
        # The request agentjobs sends: the same parameters, so only the loop around it differs.
        response = client.chat.completions.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]
            tools=[ADD_TOOL],  # type: ignore[list-item]
            temperature=0,
            max_tokens=MAX_TOKENS,
            timeout=REQUEST_TIMEOUT_S,
        )
        calls += 1
        message = response.choices[0].message
        if not message.tool_calls:
            return calls
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            arguments = json.loads(call.function.arguments)  # type: ignore[union-attr]
            messages.append({"role": "tool", "tool_call_id": call.id, "content": add(**arguments)})


class EncodingStore:
    """Stands in for Airflow's task state store: every value is JSON-encoded when it is set and
    decoded when it is read, as it is on its way to the API server, so a save costs what its size
    costs (the round trip to the server is Airflow's, not the loop's)."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.data.get(key)
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = json.dumps(value)


def agentjobs_side(client: openai.OpenAI, work_dir: Path, calls: int, operator: bool) -> Callable[[], int]:
    """A conversation through run_skill: the skill, the registry, the budget meter, the contract;
    with `operator`, also what AgentOperator adds around it (see operator_conversation)."""
    from bench.support.loop_script import skill

    from agentjobs.agent.budget import BudgetMeter
    from agentjobs.agent.caps import Caps
    from agentjobs.agent.model_client import ModelClient
    from agentjobs.agent.runner import RunPlan, run_skill
    from agentjobs.agent.tools import tool_from_function

    model_client = ModelClient(client, model_for(calls))
    caps = Caps(max_iterations=max(40, calls), max_total_tokens=1_000_000, timeout_s=600)
    run = RunPlan(
        skill=skill(work_dir),
        prompt=USER_PROMPT,
        work_dir=work_dir / "run",
        tool_names=["add"],
        tools=[tool_from_function(add)],
    )
    if operator:
        return operator_conversation(run, model_client, caps, work_dir)

    def conversation() -> int:
        meter = BudgetMeter(caps)
        run_skill(dataclasses.replace(run, tool_sequence=[]), model_client, meter)
        return meter.usage.iterations

    return conversation


def operator_conversation(run: Any, model_client: Any, caps: Any, work_dir: Path) -> Callable[[], int]:
    """One task of AgentOperator's, its runtime configured as `operators/agent.py` configures it:
    the transcript file next to the artifact, the connection's key scrubbed from it, the replay
    cache loaded from and saved to the task state store after every call with the spend, and the
    iteration logged, the HTTP client's per-request log line quieted. Airflow's own work per task
    (the context, the connection, XCom) is not here."""
    from agentjobs.agent.budget import BudgetMeter, Prices
    from agentjobs.agent.replay import ReplayCache
    from agentjobs.agent.runner import run_skill
    from agentjobs.operators.agent import iteration_callback, quiet_http_request_log
    from agentjobs.operators.spend_store import SpendStore

    log = logging.getLogger("bench.operator")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(logging.FileHandler(work_dir / "task.log", encoding="utf-8"))
    quiet_http_request_log()  # as AgentOperator does before it makes its model clients

    def conversation() -> int:
        spend = SpendStore(store=EncodingStore(), epoch=1)  # a fresh task instance
        spent, elapsed_before, kept_calls = spend.load()
        replay = ReplayCache(kept_calls)
        meter = BudgetMeter(caps, Prices(), usage=spent, elapsed_before_s=elapsed_before)

        on_iteration = iteration_callback(spend, meter, replay, log)

        task_run = dataclasses.replace(
            run,
            transcript_path=run.work_dir / "transcript.jsonl",
            secrets=[API_KEY],
            on_iteration=on_iteration,
            replay=replay,
            tool_sequence=[],
        )
        try:
            run_skill(task_run, model_client, meter)
        finally:
            spend.save(meter.usage, meter.elapsed_s, replay.entries, replay.texts)
        return meter.usage.iterations

    return conversation


def main() -> None:
    side, base_url = sys.argv[1], sys.argv[2]
    # Answer on a copy of stdout and send fd 1 to stderr: the operator side imports Airflow,
    # whose logging setup prints to stdout, the channel this worker answers on.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else CONVERSATION_CALLS
    client = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    with tempfile.TemporaryDirectory() as tmp:
        if side in ("agentjobs", "operator"):
            conversation = agentjobs_side(client, Path(tmp), calls, operator=side == "operator")
        elif side == "bare":
            system = system_prompt(Path(tmp))

            def conversation() -> int:
                return bare_conversation(client, system, model_for(calls))

        else:
            raise SystemExit(f"unknown side {side!r}: bare, agentjobs or operator")
        conversation()  # warm-up: connections open, caches filled, nothing lazy left
        print("ready", file=answers, flush=True)
        for line in sys.stdin:
            count = int(line.split()[1])
            started, cpu_started = time.perf_counter(), time.process_time()
            made = sum(conversation() for _ in range(count))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            answer = {"seconds": seconds, "cpu_seconds": cpu, "calls": made}
            print(json.dumps(answer), file=answers, flush=True)


if __name__ == "__main__":
    main()

"""One side of bench/loop_overhead.py in a process of its own: the agentjobs runtime or the bare SDK.

    python bench/support/loop_worker.py agentjobs|bare BASE_URL

It prints `ready` once set up (and warmed up by one conversation), then for each `run N`
line on stdin holds N conversations and prints one JSON line: {"seconds": ..., "calls": ...}.
The timed part is the conversations only, not the interpreter's start or imports.
"""

from __future__ import annotations

import json
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
    MAX_TOKENS,
    MODEL,
    REQUEST_TIMEOUT_S,
    USER_PROMPT,
    add,
    system_prompt,
)


def bare_conversation(client: openai.OpenAI, system: str) -> int:
    """The same conversation with the openai client in a hand-written tool loop."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": USER_PROMPT},
    ]
    calls = 0
    while True:
        # The request agentjobs sends: the same parameters, so only the loop around it differs.
        response = client.chat.completions.create(
            model=MODEL,
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


def agentjobs_side(client: openai.OpenAI, work_dir: Path) -> Callable[[], int]:
    """A conversation through run_skill: the skill, the registry, the budget meter, the contract."""
    from bench.support.loop_script import skill

    from agentjobs.agent.budget import BudgetMeter
    from agentjobs.agent.caps import Caps
    from agentjobs.agent.model_client import ModelClient
    from agentjobs.agent.runner import SkillRun, run_skill
    from agentjobs.agent.tools import tool_from_function

    model_client = ModelClient(client, MODEL)
    run = SkillRun(
        skill=skill(work_dir),
        prompt=USER_PROMPT,
        work_dir=work_dir / "run",
        tool_names=["add"],
        tools=[tool_from_function(add)],
    )

    def conversation() -> int:
        meter = BudgetMeter(Caps(max_iterations=40, max_total_tokens=1_000_000, timeout_s=600))
        run_skill(run, model_client, meter)
        return meter.usage.iterations

    return conversation


def main() -> None:
    side, base_url = sys.argv[1], sys.argv[2]
    client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    with tempfile.TemporaryDirectory() as tmp:
        if side == "agentjobs":
            conversation = agentjobs_side(client, Path(tmp))
        elif side == "bare":
            system = system_prompt(Path(tmp))

            def conversation() -> int:
                return bare_conversation(client, system)

        else:
            raise SystemExit(f"unknown side {side!r}: agentjobs or bare")
        conversation()  # warm-up: connections open, caches filled, nothing lazy left
        print("ready", flush=True)
        for line in sys.stdin:
            count = int(line.split()[1])
            started = time.perf_counter()
            calls = sum(conversation() for _ in range(count))
            print(json.dumps({"seconds": time.perf_counter() - started, "calls": calls}), flush=True)


if __name__ == "__main__":
    main()

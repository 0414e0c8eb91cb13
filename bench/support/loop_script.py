"""The conversation every side of bench/loop_overhead.py holds: the same prompts and the same tool.

The agentjobs side runs it as a skill (SKILL.md written here); the bare SDK and the peer send
that skill's system prompt as it is, so every side sends the same text and one `add` tool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODEL = "bench-zero-latency"
# A conversation's model calls when nothing else is asked: nine tool calls and the answer.
CONVERSATION_CALLS = 10
# A key the runtime masks wherever it shows up (the operator scrubs the connection's key).
API_KEY = "sk-bench-0000-not-a-real-key"
# What agentjobs' ModelClient sends by default (EndpointOptions), for the sides that send it by hand.
MAX_TOKENS = 4096
REQUEST_TIMEOUT_S = 120.0
USER_PROMPT = "Add one, nine times, with the add tool, starting from 0; then report the sum."
SKILL_NAME = "bench-add"
SKILL_MD = """---
name: bench-add
description: Adds numbers with the add tool, for bench/loop_overhead.py.
mode: loop
result_schema:
  type: object
  additionalProperties: false
  required: [sum]
  properties:
    sum:
      type: integer
---
# Add

Call `add` once per step as the task says, then finish with the RESULT line.
"""
# What tool_from_function(add).spec() produces (bench/loop_overhead.py checks it still does).
ADD_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Return a + b.",
        "parameters": {
            "additionalProperties": False,
            "properties": {"a": {"title": "A", "type": "integer"}, "b": {"title": "B", "type": "integer"}},
            "required": ["a", "b"],
            "title": "AddArgs",
            "type": "object",
        },
    },
}


def model_for(calls: int) -> str:
    """The model name that makes the zero-latency server script `calls` model calls a conversation."""
    return MODEL if calls == CONVERSATION_CALLS else f"{MODEL}@{calls - 1}"


def add(a: int, b: int) -> str:
    """Return a + b."""
    return str(a + b)


def skill(folder: Path) -> Any:
    """The skill, loaded by agentjobs' own loader from `folder`/bench-add/SKILL.md."""
    from agentjobs.agent.skills import load_skill

    path = folder / SKILL_NAME / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SKILL_MD, encoding="utf-8")
    return load_skill(SKILL_NAME, folder)


def system_prompt(folder: Path) -> str:
    """The system prompt agentjobs sends for the skill, for the sides that have no skills."""
    from agentjobs.agent.runner import RunPlan

    return RunPlan(skill=skill(folder), prompt=USER_PROMPT, work_dir=folder).system_prompt()

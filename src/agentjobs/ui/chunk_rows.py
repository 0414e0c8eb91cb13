"""A chunked fan-out's summarize task instance as the page shows it: one row per team of its chunk.

With `fan_out.chunk_size` > 1 one summarize task instance runs several teams' agents
(operators/team_chunk.py); the fetch task's XCom holds a list of team runs at its map index, and
the task's `teams` XCom each team's outcome (usage, result, artifact folder, or its error). Each
team keeps its own row: its usage, contract and deliveries, as when it had a task of its own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agentjobs.ui.records import AgentRun, contract_status, usage_fields

DONE_STATES = ("success", "failed")


def chunk_rows(
    run: AgentRun, chunk: Any, outcomes: Any, validated: Any, validate_state: str | None
) -> list[AgentRun] | None:
    """One row per team of `chunk` (the fetch's list at the run's map index), or None when the
    run is not a chunk's. `outcomes` and `validated`: the summarize and validate `teams` XComs."""
    if not isinstance(chunk, list):
        return None
    outcomes = outcomes if isinstance(outcomes, dict) else {}
    validated = validated if isinstance(validated, dict) else {}
    rows = []
    for team_run in chunk:
        if not isinstance(team_run, dict):
            continue
        team = str(team_run.get("team"))
        row = dataclasses.replace(
            run, team=team, period=team_run.get("period"), iterations=0, prompt_tokens=0,
            completion_tokens=0, cost_usd=0.0, items=None, result=None, artifact_dir=None,
            error=None, deliveries=[],
        )  # fmt: skip
        outcome = outcomes.get(team)
        if isinstance(outcome, dict):
            _fill_team(row, outcome)
        if team in validated:
            row.contract = "passed"
        elif validate_state in DONE_STATES and row.state == "success":
            row.contract = "failed"
        else:
            row.contract = contract_status(None, row.state)
        rows.append(row)
    return rows


def _fill_team(row: AgentRun, outcome: dict[str, Any]) -> None:
    for name, value in usage_fields({"usage": outcome.get("usage") or {}}).items():
        if name in ("iterations", "prompt_tokens", "completion_tokens", "cost_usd"):
            setattr(row, name, value)
    row.model = outcome.get("model") or row.model
    if "error" in outcome:
        row.state = "failed"
        row.error = str(outcome.get("failure") or outcome["error"])
        return
    row.state = "success" if row.state in ("failed", "success") else row.state
    result = outcome.get("result")
    row.result = result if isinstance(result, dict) else None
    if row.result is not None and isinstance(row.result.get("items"), int):
        row.items = row.result["items"]
    row.artifact_dir = outcome.get("artifact")

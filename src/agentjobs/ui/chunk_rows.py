"""A chunked fan-out's summarize task instance as the page shows it: one row per team of its chunk.

With `fan_out.chunk_size` > 1 one summarize task instance runs several teams' agents
(operators/team_chunk.py); the fetch task's XCom holds a list of team runs at its map index, and
the task's `teams` XCom each team's outcome (usage, result, artifact folder, or its error). Each
team keeps its own row: its usage, contract and deliveries, as when it had a task of its own.

The chunk's later steps (validate, and apply, publish, deliver where the kind has them) push
their `teams` XCom too, a failed team's entry holding the step and the scrubbed error; the row
names the first step that failed for its team and why, as a per-team graph's row does from that
team's failed task (queries.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agentjobs.ui.records import AgentRun, contract_status, usage_fields

DONE_STATES = ("success", "failed")


@dataclasses.dataclass(frozen=True)
class ChunkStep:
    """What one of the chunk's steps after validate left: its `teams` XCom, its task's state and
    the task's own failure (a chunk task that failed before it could push its teams)."""

    name: str  # apply, publish, deliver
    teams: Any
    state: str | None = None
    failure: Any = None


def chunk_rows(
    run: AgentRun,
    chunk: Any,
    outcomes: Any,
    validated: Any,
    validate_state: str | None,
    steps: list[ChunkStep] | None = None,
) -> list[AgentRun] | None:
    """One row per team of `chunk` (the fetch's list at the run's map index), or None when the
    run is not a chunk's. `outcomes` and `validated`: the summarize and validate `teams` XComs;
    `steps`: the kind's steps after validate, in order."""
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
        checked = validated.get(team)
        if _failed(checked):
            row.contract = "failed"
            _stopped_at(row, "validate", checked)
        elif team in validated:
            row.contract = "passed"
            _later_steps(row, steps or [])
        elif validate_state in DONE_STATES and row.state == "success":
            row.contract = "failed"
        else:
            row.contract = contract_status(None, row.state)
        rows.append(row)
    return rows


def _failed(outcome: Any) -> bool:
    return isinstance(outcome, dict) and "error" in outcome


def _stopped_at(row: AgentRun, step: str, outcome: Any) -> None:
    row.failed_step = step
    if isinstance(outcome, dict):
        row.error = str(outcome.get("failure") or outcome.get("error"))
    elif isinstance(outcome, str):
        row.error = outcome


def _later_steps(row: AgentRun, steps: list[ChunkStep]) -> None:
    """The first step after validate that failed for the row's team, if one did."""
    team = row.team
    for step in steps:
        teams = step.teams if isinstance(step.teams, dict) else {}
        if _failed(teams.get(team)):
            _stopped_at(row, step.name, teams[team])
            return
        if team not in teams and step.state == "failed":
            # The chunk's task failed before it said anything of this team: the task's error is its.
            _stopped_at(row, step.name, step.failure)
            return
        if team not in teams:
            return  # not reached yet (or still running): nothing failed for it so far


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

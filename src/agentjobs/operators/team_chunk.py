"""The tasks of a chunked fan-out (spec `fan_out.chunk_size` > 1): each takes a chunk of the
fetch task's team runs and does, for each team of it, what the per-team task does for one.

Airflow's per-task overhead (a task process, its start-up, its API calls: 5-19 s on two cores
around a 3 s model call) is paid once per chunk instead of once per team. Each team keeps its
own of everything else:

- summarize runs each team's agent with the per-team operator's own prepare/finish (its snapshot,
  kept result, pseudonyms, render), in its own folder with its own transcript, caps and spend (the
  task state store's keys prefixed with the team), up to `fan_out.concurrency` teams at once in
  threads. A rate-limited connection's short waits are slept in the thread; a team that would
  wait `defer_waits_from_s` or longer is set aside and its thread takes the next team, and when
  every team not done waits so, the chunk defers to the triggerer, freeing its worker slot, as
  the per-team task does (operators/team_rounds.py). It pushes each team's outcome (XCom key
  `teams`) and then fails naming the failed teams, so Airflow retries the chunk: a team done in
  an earlier try replays its paid calls from the store, and a team already delivered (a clear)
  keeps its artifact, without a model call.
- validate and deliver run when summarize is done (trigger rule `all_done`) and handle the teams
  whose previous step succeeded, so the chunk's good teams are delivered when one team fails;
  each fails at the end naming its own failed teams. Each team's deliveries are its own ledger
  rows, as per team. A kind's apply and publish steps between them do the same
  (operators/team_chunk_steps.py).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import TriggerRule

from agentjobs.agent.errors import PermanentAgentError, WaitRequested
from agentjobs.agent.scrub import scrub_exception
from agentjobs.jobs.spec import JobSpec
from agentjobs.jobs.team_run import CHUNK_CONCURRENCY_KEY, CHUNK_TEAMS_KEY
from agentjobs.operators.agent import AgentOperator, init_agent, wait_deferral
from agentjobs.operators.errors import PermanentTaskError
from agentjobs.operators.job_task import agent_defaults
from agentjobs.operators.run_alert import FAN_OUT_FETCH_TASK_ID
from agentjobs.operators.team_agent import TeamAgentOperator
from agentjobs.operators.team_deliver import TeamDeliverOperator
from agentjobs.operators.team_rounds import AllWaiting, Parked, run_teams
from agentjobs.operators.team_task import TeamContext, team_context
from agentjobs.operators.team_validate import TeamValidateOperator
from agentjobs.operators.team_validated import unchanged_artifact

TEAMS_KEY = CHUNK_TEAMS_KEY  # the XCom of each chunk task: team id -> that team's outcome


class TeamsFailed(RuntimeError):
    """Teams of a chunk failed, at least one for a reason a retry may cure (a 429, a timeout)."""


class TeamsFailedPermanently(PermanentTaskError):
    """Teams of a chunk failed, each for a reason a retry would meet again (caps, contract)."""


def chunk_failure(failed: dict[str, BaseException], total: int, step: str) -> Exception:
    """One exception naming each failed team and why; retryable unless every cause is permanent."""
    listing = "; ".join(f"{team}: {type(exc).__name__}: {exc}" for team, exc in failed.items())
    message = f"{len(failed)} of {total} teams failed to {step}: {listing}"
    permanent = all(isinstance(exc, PermanentAgentError | PermanentTaskError) for exc in failed.values())
    return TeamsFailedPermanently(message) if permanent else TeamsFailed(message)


def comms_thread_safe() -> bool:
    """Whether this task's channel to its supervisor (connections, XCom, the task state store)
    takes calls from several threads. A worker's does (its CommsDecoder locks the socket);
    dag.test()'s in-process stand-in does not: it removes the module's SUPERVISOR_COMMS while it
    answers a call, so another thread's lookup fails. There the chunk's teams run one at a time."""
    from airflow.sdk.execution_time import task_runner

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    return comms is None or hasattr(comms, "_thread_lock")


def chunk_contexts(spec: JobSpec, team_runs: Any) -> list[TeamContext]:
    if not isinstance(team_runs, list):
        raise ValueError(f"expected a chunk (a list of team runs) from the fetch task, got {team_runs!r}")
    return [team_context(spec, run) for run in team_runs]


class _TeamStore:
    """A team's share of the chunk task's state store: its keys prefixed with the team id, so
    each team's spend and paid answers survive a retry on their own."""

    def __init__(self, store: Any, team_id: str) -> None:
        self.store, self.prefix = store, f"{team_id}:"

    def get(self, key: str, default: Any = None) -> Any:
        return self.store.get(self.prefix + key, default)

    def set(self, key: str, value: Any) -> None:
        self.store.set(self.prefix + key, value)

    def delete(self, key: str) -> None:
        self.store.delete(self.prefix + key)


class _TeamTI:
    """The chunk's task instance as one team's agent sees it: its XCom pushes (its usage) are
    kept for the chunk's `teams` XCom instead of overwriting the other teams'."""

    def __init__(self, ti: Any) -> None:
        self._ti = ti
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ti, name)


class ChunkAgentOperator(TeamAgentOperator):
    """summarize for a chunk of teams: each team's agent, `concurrency` at a time."""

    template_fields: Sequence[str] = (*AgentOperator.template_fields, "team_runs")

    def __init__(self, *, spec: JobSpec, team_runs: Any, concurrency: int, **kwargs: Any) -> None:
        if spec.caps.timeout_s is not None:
            # Each team has its own time cap; the chunk runs them in rounds of `concurrency`. With
            # `chunks` a run's chunk size is known only then: sized for max_teams_per_run teams.
            rounds = math.ceil(spec.fan_out.size_for(spec.max_teams_per_run) / concurrency)
            kwargs.setdefault("execution_timeout", timedelta(seconds=spec.caps.timeout_s * rounds + 60))
        init_agent(self, **agent_defaults(spec, kwargs, skill=spec.skill, allow_empty=True))
        self.spec = spec
        self.team_run = None  # each team's agent gets its own (`_team_agent`)
        self.team_runs = team_runs
        self.concurrency = concurrency

    def run_folders(self, context: Any) -> list[Path]:
        return [team.work_dir for team in chunk_contexts(self.spec, self.team_runs)]

    def run_agent(self, context: Any) -> dict[str, Any]:
        teams = chunk_contexts(self.spec, self.team_runs)
        runs = {team.team_id: run for team, run in zip(teams, self.team_runs, strict=True)}
        threads = max(1, min(self.run_concurrency(context), len(teams))) if comms_thread_safe() else 1
        try:
            tried = run_teams(
                list(runs),
                lambda team_id, parked: self._team_agent(runs[team_id], context, parked),
                threads,
                self.defer_waits_from_s,
            )
        except AllWaiting as waiting:
            # No call in flight: the worker slot is free to go; back from the triggerer every
            # team runs again, the done ones replaying their paid calls from the store.
            self.log.info(
                "%s: deferring the chunk to the triggerer rather than holding a worker slot", waiting
            )
            raise wait_deferral(waiting.wait_s, datetime.now(UTC)) from None
        outcomes = {team_id: outcome for team_id, (outcome, _) in tried.items()}
        failed = {team_id: error for team_id, (_, error) in tried.items() if error is not None}
        context["ti"].xcom_push(key=TEAMS_KEY, value=outcomes)
        if failed:
            raise chunk_failure(failed, len(teams), "summarize")
        return {"teams": [team.team_id for team in teams]}

    def run_concurrency(self, context: Any) -> int:
        """Calls at once this run: the spec's, or more where the fetch merged chunks the
        connection's rate limit could not keep busy (FanOut.layout_for)."""
        said = context["ti"].xcom_pull(
            task_ids=FAN_OUT_FETCH_TASK_ID, key=CHUNK_CONCURRENCY_KEY, map_indexes=-1
        )
        return int(said) if isinstance(said, int) and said > 0 else self.concurrency

    def wait_elsewhere(self, wait: WaitRequested) -> BaseException:
        """A team's long wait sets it aside in the chunk (team_rounds.run_teams), its thread free."""
        return Parked(wait.wait_s)

    def _team_agent(
        self, team_run: Any, context: Any, parked: bool = False
    ) -> tuple[dict[str, Any], BaseException | None]:
        """One team's agent as its own per-team task would run it; (its outcome, its failure).
        Raises Parked when it would wait long for the rate limiter (`parked`: it did before)."""
        member = copy.copy(self)  # this task, with one team's run: prepare/finish read `team_run`
        member.team_run = team_run
        # Back from a wait (the chunk's deferral or its own set-aside): its wait counts toward its
        # time cap, from the moment its spend store noted.
        member._resumed = self._resumed or parked
        ti = _TeamTI(context["ti"])
        store = context.get("task_state_store")
        team = member.team_context()
        bind = getattr(self.log, "bind", None)  # structlog's: each line of the task log names its team
        if bind is not None:
            member._cached_logger = bind(team=team.team_id)
        own = {**context, "ti": ti}
        if store is not None:
            own["task_state_store"] = _TeamStore(store, team.team_id)
        try:
            return TeamAgentOperator.run_agent(member, own), None
        except Parked:
            raise
        except Exception as exc:
            scrub_exception(exc)  # its message reaches the log, the chunk's failure and the alert
            self.log.error("%s %s: %s: %s", team.team_id, team.period_key, type(exc).__name__, exc)
            usage = ti.pushed.get("usage")
            outcome = {"team": team.team_id, "period": team.period_key, "error": f"{type(exc).__name__}"}
            if isinstance(usage, dict):
                outcome.update(usage=usage.get("usage", usage), failure=usage.get("error"))
            return outcome, exc


def for_each_team(
    teams: list[TeamContext],
    previous: dict[str, Any],
    work: Callable[[TeamContext, Any], dict[str, Any]],
    log: Any,
) -> tuple[dict[str, Any], dict[str, BaseException]]:
    """`work` for each team whose previous step handed something on; (outcomes, failures). A team
    the previous step failed is left out quietly: that step's task already names it."""
    done: dict[str, Any] = {}
    failed: dict[str, BaseException] = {}
    for team in teams:
        handed = previous.get(team.team_id)
        if not isinstance(handed, dict) or "error" in handed:
            log.info("%s: its previous step failed; nothing to do for it here", team.team_id)
            continue
        try:
            done[team.team_id] = work(team, handed)
        except Exception as exc:
            scrub_exception(exc)
            log.error("%s %s: %s: %s", team.team_id, team.period_key, type(exc).__name__, exc)
            failed[team.team_id] = exc
    return done, failed


def chunk_outcome(
    context: Any, done: dict[str, Any], failed: dict[str, BaseException], total: int, step: str
) -> dict[str, Any]:
    """Push each team's outcome (the `teams` XCom the chunk's next step reads), then fail naming
    the failed teams, if any; else the task's return value.

    A failed team's outcome is summarize's shape for one: its error's type and the scrubbed line
    (`failure`), with the step, so the UI page's row for the team says where and why it stopped
    (ui/chunk_rows.py); the next step passes it over as it does a team summarize failed."""
    from agentjobs.agent.runner import scrub_failure  # run-time: the runner is no parse's cost

    outcomes: dict[str, Any] = dict(done)
    for team_id, exc in failed.items():
        outcomes[team_id] = {
            "team": team_id,
            "step": step,
            "error": type(exc).__name__,
            "failure": scrub_failure(exc, ()),
        }
    context["ti"].xcom_push(key=TEAMS_KEY, value=outcomes)
    if failed:
        raise chunk_failure(failed, total, step)
    return {"teams": sorted(done)}


def pulled_teams(context: Any, task_id: str) -> dict[str, Any]:
    """The `teams` XCom of the chunk's earlier step (same map index); {} when it pushed none."""
    ti = context["ti"]
    pushed = ti.xcom_pull(task_ids=task_id, key=TEAMS_KEY, map_indexes=ti.map_index)
    return pushed if isinstance(pushed, dict) else {}


def handed_on(context: Any, source_task_id: str, previous_task_id: str) -> dict[str, Any]:
    """What `source_task_id` pushed per team (validate's shape: what a step reads), for the teams
    the step right before (`previous_task_id`) handed on. A team whose apply failed is not
    published or delivered, as its per-team chain would leave it `upstream_failed`."""
    source = pulled_teams(context, source_task_id)
    if previous_task_id == source_task_id:
        return source
    previous = pulled_teams(context, previous_task_id)
    return {
        team: handed
        for team, handed in source.items()
        if isinstance(previous.get(team), dict) and "error" not in previous[team]
    }


class ChunkStep:
    """What every chunk task after summarize shares (validate, apply, publish, deliver): the
    chunk's team runs as its templated field, and its teams' folders as its run folders. A plain
    class, not an operator: an `__init__` here would be one more wrapper Airflow runs (and one more
    copy of the DAG's Params) for every task of a parse."""

    template_fields: Sequence[str] = ("team_runs",)
    spec: JobSpec
    team_runs: Any

    def run_folders(self, context: Any) -> list[Path]:
        return [team.work_dir for team in chunk_contexts(self.spec, self.team_runs)]


class ChunkValidateOperator(ChunkStep, TeamValidateOperator):
    """validate for a chunk: each team whose summarize succeeded, checked on its own."""

    def __init__(self, *, spec: JobSpec, team_runs: Any, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(spec=spec, team_run=None, **kwargs)
        self.team_runs = team_runs

    def run(self, context: Any) -> dict[str, Any]:
        teams = chunk_contexts(self.spec, self.team_runs)
        summarized = pulled_teams(context, self.summarize_task_id)
        done, failed = for_each_team(
            teams, summarized, lambda team, pushed: self.validate_team(team, pushed, context), self.log
        )
        return chunk_outcome(context, done, failed, len(teams), "validate")


class ChunkDeliverOperator(ChunkStep, TeamDeliverOperator):
    """deliver for a chunk: each validated team to its own targets, through the ledger. With a
    step between (apply), `previous_task_id` is it: only the teams it handed on are delivered."""

    def __init__(
        self, *, spec: JobSpec, team_runs: Any, previous_task_id: str | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(spec=spec, team_run=None, **kwargs)
        self.team_runs = team_runs
        self.previous_task_id = previous_task_id or self.validate_task_id

    def run(self, context: Any) -> dict[str, Any]:
        teams = chunk_contexts(self.spec, self.team_runs)
        validated = handed_on(context, self.validate_task_id, self.previous_task_id)

        def deliver(team: TeamContext, handed: dict[str, Any]) -> dict[str, Any]:
            return self.deliver_team(team, handed, unchanged_artifact(handed), context)

        done, failed = for_each_team(teams, validated, deliver, self.log)
        return chunk_outcome(context, done, failed, len(teams), "deliver")

"""Reading what the runs recorded: Airflow's metadata DB, the jobs' specs, ledgers and run logs.

The agent tasks are `summarize` (a digest) and `team.summarize` (one mapped instance per team of
a fan-out job). Their XComs carry the usage (also pushed when a try fails) and the RESULT; the
validate task's state is the contract's status; the delivery ledger of the job's spec says what
went where. Nothing here writes, and nothing calls a model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from airflow.configuration import conf
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from sqlalchemy.orm import Session

from agentjobs.agent.scrub import scrub
from agentjobs.delivery.ledger import DeliveryLedger, DeliveryRecord
from agentjobs.hooks.ledger import run_log
from agentjobs.jobs.folder import jobs_folder
from agentjobs.jobs.health import JobHealth, job_health
from agentjobs.jobs.period import period_for
from agentjobs.jobs.spec import JobSpec, load_folder
from agentjobs.jobs.team_run import CHUNK_TEAMS_KEY, STEP_FAILURE_KEY, ledger_key
from agentjobs.ui.chunk_rows import ChunkStep, chunk_rows
from agentjobs.ui.records import AgentRun, Delivery, contract_status, usage_fields

log = logging.getLogger(__name__)

# Each agent task and the task that checks its artifact.
VALIDATE_OF = {"summarize": "validate", "team.summarize": "team.validate"}
# A fan-out team's steps after validate, in order; a kind has those its graph has.
TEAM_STEPS = ("team.apply", "team.publish", "team.deliver")
FETCH_TASK = "fetch"  # a fan-out job's: its return value lists the team runs, by map index
HEALTH_CHANNEL = "health"  # the health check's alerts share the ledger; they are not deliveries


def specs_folder() -> Path:
    """The jobs folder the DAG file in the DAGs folder reads (jobs/folder.py says which)."""
    return jobs_folder(str(Path(conf.get("core", "dags_folder")) / "agentjobs_jobs.py"))


def load_jobs() -> dict[str, JobSpec]:
    """The good specs of the jobs folder (the broken ones are the health DAG's to report)."""
    folder = specs_folder()
    if not folder.is_dir():
        return {}
    loaded, _broken = load_folder(folder)
    return {spec.dag_id: spec for spec in loaded.values()}


def _instant(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def agent_runs(
    session: Session,
    jobs: dict[str, JobSpec],
    dag_ids: Iterable[str],
    *,
    since: date | None = None,
    until: date | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: int | None = None,
    limit: int = 200,
    problems: list[str] | None = None,
) -> list[AgentRun]:
    """The agent task instances of `dag_ids`, newest first, with usage, contract and deliveries.

    A ledger that cannot be read leaves its runs without deliveries and says why in `problems`.
    """
    dag_ids = sorted(set(dag_ids))
    if not dag_ids:
        return []
    when = sa.func.coalesce(DagRun.logical_date, DagRun.run_after)
    query = (
        sa.select(TaskInstance, DagRun.logical_date, DagRun.run_after)
        .join(DagRun, sa.and_(TaskInstance.dag_id == DagRun.dag_id, TaskInstance.run_id == DagRun.run_id))
        .where(TaskInstance.dag_id.in_(dag_ids), TaskInstance.task_id.in_(list(VALIDATE_OF)))
        # A mapped task's placeholder (-1) stands for no team: the fan-out served none yet.
        .where(sa.or_(TaskInstance.task_id == "summarize", TaskInstance.map_index >= 0))
    )
    if since is not None:
        query = query.where(when >= datetime.combine(since, time(0), UTC))
    if until is not None:
        query = query.where(when < datetime.combine(until + timedelta(days=1), time(0), UTC))
    if run_id is not None:
        query = query.where(TaskInstance.run_id == run_id)
    if task_id is not None:
        query = query.where(TaskInstance.task_id == task_id)
    if map_index is not None:
        query = query.where(TaskInstance.map_index == map_index)
    query = query.order_by(when.desc(), TaskInstance.dag_id, TaskInstance.map_index).limit(limit)
    rows = session.execute(query).all()
    if not rows:
        return []
    run_ids = sorted({ti.run_id for ti, _, _ in rows})
    xcoms = _xcoms(session, dag_ids, run_ids)
    step_states = _step_states(session, dag_ids, run_ids)
    ledgers = _Ledgers(problems if problems is not None else [])
    runs = []
    for ti, logical_date, run_after in rows:
        run = AgentRun(
            job=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=ti.map_index,
            logical_date=_instant(logical_date),
            run_after=_instant(run_after) or datetime.now(UTC),
            state=ti.state,
            try_number=ti.try_number,
        )
        _fill(run, xcoms, step_states, jobs.get(ti.dag_id))
        spec = jobs.get(ti.dag_id)
        for row in _team_rows(run, xcoms, step_states):
            if spec is not None and row.period:
                row.deliveries = ledgers.deliveries(spec, row)
            runs.append(row)
    return runs


def _team_rows(
    run: AgentRun, xcoms: dict[tuple[Any, ...], Any], step_states: dict[tuple[Any, ...], Any]
) -> list[AgentRun]:
    """The run as its rows: itself, or one per team when it is a chunked fan-out's summarize."""
    if run.task_id != "team.summarize":
        return [run]
    team_runs = xcoms.get((run.job, run.run_id, FETCH_TASK, -1, "return_value"))
    if not isinstance(team_runs, list) or not 0 <= run.map_index < len(team_runs):
        return [run]
    validate = VALIDATE_OF[run.task_id]
    task = (run.job, run.run_id)
    steps = [  # the steps this job's graph has: a task instance at the map index, run or not
        ChunkStep(
            step.removeprefix("team."),
            xcoms.get((*task, step, run.map_index, CHUNK_TEAMS_KEY)),
            step_states[(*task, step, run.map_index)],
            xcoms.get((*task, step, run.map_index, STEP_FAILURE_KEY)),
        )
        for step in TEAM_STEPS
        if (*task, step, run.map_index) in step_states
    ]
    rows = chunk_rows(
        run,
        team_runs[run.map_index],
        xcoms.get((*task, run.task_id, run.map_index, CHUNK_TEAMS_KEY)),
        xcoms.get((*task, validate, run.map_index, CHUNK_TEAMS_KEY)),
        step_states.get((*task, validate, run.map_index)),
        steps,
    )
    if rows is not None:
        return rows
    # A team's own graph: its first step that failed, with the error the task left (team_task.py).
    for step in (validate, *TEAM_STEPS):
        if step_states.get((*task, step, run.map_index)) == "failed":
            run.failed_step = step.removeprefix("team.")
            failure = xcoms.get((*task, step, run.map_index, STEP_FAILURE_KEY))
            run.error = failure if isinstance(failure, str) else run.error
            break
    return [run]


def _xcoms(session: Session, dag_ids: list[str], run_ids: list[str]) -> dict[tuple[Any, ...], Any]:
    query = sa.select(XComModel).where(
        XComModel.dag_id.in_(dag_ids),
        XComModel.run_id.in_(run_ids),
        sa.or_(
            sa.and_(
                # The validate tasks' for a chunk's `teams` (which of its teams passed).
                XComModel.task_id.in_([*VALIDATE_OF, *VALIDATE_OF.values(), FETCH_TASK]),
                XComModel.key.in_(["return_value", "usage", CHUNK_TEAMS_KEY, STEP_FAILURE_KEY]),
            ),
            # The later steps': only which teams failed there and why, not what they wrote or sent.
            sa.and_(
                XComModel.task_id.in_(TEAM_STEPS), XComModel.key.in_([CHUNK_TEAMS_KEY, STEP_FAILURE_KEY])
            ),
        ),
    )
    found = {}
    for row in session.scalars(query):
        found[(row.dag_id, row.run_id, row.task_id, row.map_index, row.key)] = XComModel.deserialize_value(
            row
        )
    return found


def _step_states(session: Session, dag_ids: list[str], run_ids: list[str]) -> dict[tuple[Any, ...], Any]:
    """The state of each validate task and team step after it, by (dag, run, task, map index)."""
    query = sa.select(
        TaskInstance.dag_id,
        TaskInstance.run_id,
        TaskInstance.task_id,
        TaskInstance.map_index,
        TaskInstance.state,
    ).where(
        TaskInstance.dag_id.in_(dag_ids),
        TaskInstance.run_id.in_(run_ids),
        TaskInstance.task_id.in_([*VALIDATE_OF.values(), *TEAM_STEPS]),
    )
    return {(d, r, t, m): state for d, r, t, m, state in session.execute(query)}


def _fill(
    run: AgentRun,
    xcoms: dict[tuple[Any, ...], Any],
    step_states: dict[tuple[Any, ...], Any],
    spec: JobSpec | None,
) -> None:
    key = (run.job, run.run_id, run.task_id, run.map_index)
    for name, value in usage_fields(xcoms.get((*key, "usage"))).items():
        setattr(run, name, value)
    pushed = xcoms.get((*key, "return_value"))
    if isinstance(pushed, dict):
        for name, value in usage_fields({"usage": pushed.get("usage") or {}}).items():
            if name in ("iterations", "prompt_tokens", "completion_tokens", "cost_usd"):
                setattr(run, name, value)  # the final usage, the same as the `usage` XCom's
        run.model = pushed.get("model") or run.model
        result = pushed.get("result")
        run.result = result if isinstance(result, dict) else None
        if run.result is not None and isinstance(run.result.get("items"), int):
            run.items = run.result["items"]
        run.artifact_dir = pushed.get("artifact")
    if run.task_id == "team.summarize":
        team_runs = xcoms.get((run.job, run.run_id, FETCH_TASK, -1, "return_value"))
        if isinstance(team_runs, list) and 0 <= run.map_index < len(team_runs):
            team_run = team_runs[run.map_index]
            if isinstance(team_run, dict):
                run.team, run.period = team_run.get("team"), team_run.get("period")
    elif spec is not None:
        when = run.logical_date or run.run_after
        run.period = period_for(when, spec.timezone, spec.period_days).key
    validated = step_states.get((run.job, run.run_id, VALIDATE_OF[run.task_id], run.map_index))
    run.contract = contract_status(validated, run.state)


class _Ledgers:
    """One DeliveryLedger per connection for a request; a ledger that cannot be read shows none."""

    def __init__(self, problems: list[str]) -> None:
        self._by_conn: dict[str | None, DeliveryLedger | None] = {}
        self.problems = problems

    def get(self, conn_id: str | None) -> DeliveryLedger | None:
        if conn_id not in self._by_conn:
            try:
                self._by_conn[conn_id] = DeliveryLedger.from_conn_id(conn_id)
            except Exception as exc:  # a missing connection must not take the page down
                problem = scrub(f"ledger {conn_id or 'default'}: {type(exc).__name__}: {exc}")[:300]
                log.warning("%s", problem)
                self.problems.append(problem)
                self._by_conn[conn_id] = None
        return self._by_conn[conn_id]

    def deliveries(self, spec: JobSpec, run: AgentRun) -> list[Delivery]:
        ledger = self.get(spec.ledger_conn_id)
        if ledger is None or not run.period:
            return []
        if not run.team:
            return newest_attempts(ledger.history(job=spec.dag_id, logical_date=run.period))
        # A batching window's period (2026-11-30T1010Z) is keyed as its day, its time in the job.
        job, day = ledger_key(spec.dag_id, run.team, run.period)
        return newest_attempts(ledger.history(job=job, logical_date=day))


def newest_attempts(records: list[DeliveryRecord]) -> list[Delivery]:
    """The newest attempt of each (channel, target), in the ledger's order."""
    newest: dict[tuple[str, str], DeliveryRecord] = {}
    for record in records:
        if record.channel != HEALTH_CHANNEL:
            newest[(record.channel, record.target)] = record  # history is oldest first
    return [Delivery(r.channel, r.target, r.status, r.attempt, r.updated_at) for r in newest.values()]


def health(
    jobs: dict[str, JobSpec],
    dag_ids: Iterable[str],
    now: datetime | None = None,
    problems: list[str] | None = None,
) -> list[JobHealth]:
    """Each readable job's standing, from its run log (in its ledger's database), by job name.

    A job whose run log cannot be read is left out and named in `problems`.
    """
    now = now or datetime.now(UTC)
    found = []
    for dag_id in sorted(set(dag_ids) & set(jobs)):
        spec = jobs[dag_id]
        try:
            found.append(job_health(spec, run_log(spec.ledger_conn_id), now))
        except Exception as exc:  # one job's unreachable database must not hide the others
            problem = scrub(f"health of {dag_id}: {type(exc).__name__}: {exc}")[:300]
            log.warning("%s", problem)
            if problems is not None:
                problems.append(problem)
    return found

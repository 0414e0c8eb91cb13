"""Build a job's DAG from its spec: fetch sources → summarize → validate → deliver.

Building does no I/O beyond reading the spec files themselves: no network, no metadata
DB, no Variables, so parsing the DAG folder stays fast.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import DAG, CronTriggerTimetable

from agentjobs.agent.skill_names import SKILLS_DIR_ENV
from agentjobs.hooks import ledger_hosts
from agentjobs.jobs import spec_verdict
from agentjobs.jobs.folder import jobs_folder as jobs_folder  # the DAG files `agentjobs init` copied use it
from agentjobs.jobs.spec import BrokenSpec, JobSpec, JobSpecError, load_folder
from agentjobs.operators.graph import task_graph
from agentjobs.operators.params import caps_param, param
from agentjobs.operators.retry import with_retry_policy

log = logging.getLogger(__name__)

# Contract, budget and empty-result failures end any task at once (the retry policy, on Airflow
# 3.3 and later; before, the tasks raise them as AirflowFailException): a retry would fail again.
DEFAULT_ARGS: dict[str, Any] = with_retry_policy(
    {
        "owner": "agentjobs",
        # One retry, as the seed's backoffLimit: 1; agent tasks refuse retries for permanent errors.
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
    }
)


def resolve_paths(spec: JobSpec, base_dir: Path) -> JobSpec:
    """Relative repository and feed paths are relative to the project (the specs' grandparent)."""

    def local(path: str) -> str:
        if "://" in path or Path(path).is_absolute():
            return path
        return str((base_dir / path).resolve())

    if spec.sources.git is None and spec.sources.rss is None:
        return spec  # nothing to resolve: a deep copy of the spec cost every parse ~0.15 ms a job
    updated = spec.model_copy(deep=True)
    if updated.sources.git is not None:
        updated.sources.git.repos = [local(r) for r in updated.sources.git.repos]
    if updated.sources.rss is not None:
        updated.sources.rss.feeds = [local(f) for f in updated.sources.rss.feeds]
    return updated


def alert_callbacks(spec: JobSpec) -> list[Any]:
    """For every task: record its final failure (and why) in the job's run log. Nobody is paged
    from here: the run's last task, `alert_on_failure`, sends one alert listing them all."""
    from agentjobs.operators.run_log import RecordFailure

    return [RecordFailure(spec.dag_id, spec.ledger_conn_id)]


def run_alert_task(spec: JobSpec, dag: DAG) -> None:
    """The run's one failure alert, after every task the DAG has so far (see operators/run_alert.py)."""
    from agentjobs.operators.run_alert import RunAlertOperator

    last = dag.leaves
    last >> RunAlertOperator(spec=spec)


def dagrun_timeout(spec: JobSpec) -> timedelta:
    """How long a run may take before the scheduler stops it: the backstop for a hung run, so
    long enough for a run that uses every budget it has. It depends on the kind's task graph
    (a fan-out runs one agent task per team): the graph sizes it (operators/graph.py)."""
    return task_graph(spec).dagrun_timeout(spec)


def timeout_callbacks(spec: JobSpec, stopped_after: timedelta | None = None) -> list[Any]:
    """For the DAG run: a run stopped by `dagrun_timeout` (`stopped_after`, sized from the spec
    when not given) is recorded as failed and pages `alert`."""
    from agentjobs.notifications.alert import JobAlertNotifier, OnRunTimedOut
    from agentjobs.operators.run_log import RecordFailure

    callbacks: list[Any] = [RecordFailure(spec.dag_id, spec.ledger_conn_id)]
    if spec.alert is not None:
        minutes = round((stopped_after or dagrun_timeout(spec)).total_seconds() / 60)
        after = f"{minutes} minutes after it started"
        notifier = JobAlertNotifier(**spec.alert_kwargs(as_data=False), kind="timeout", timed_out_after=after)
        callbacks.append(notifier)
    return [OnRunTimedOut(callbacks)]


def deadline_alert(spec: JobSpec, stopped_after: timedelta | None = None) -> Any:
    """The DAG's deadline: finished within `deadline_minutes` of being queued, or an alert; it
    must come before the run is stopped (`stopped_after`, sized from the spec when not given).

    DAGRUN_QUEUED_AT (not the logical date) so manual and backfill runs are watched too. The
    callback is our notifier by dotted path: the triggerer imports it from the installed package.
    """
    if spec.deadline_minutes is None or spec.alert is None:
        return None
    stopped_after = stopped_after or dagrun_timeout(spec)
    if timedelta(minutes=spec.deadline_minutes) >= stopped_after:
        raise JobSpecError(
            f"job {spec.dag_id!r}: deadline_minutes {spec.deadline_minutes} is not below the run's "
            f"dagrun_timeout ({stopped_after.total_seconds() / 60:g} minutes), so a slow run would be "
            "stopped before it could be late; lower deadline_minutes (or raise caps.timeout_s)"
        )
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    kwargs = {
        **spec.alert_kwargs(),
        "kind": "deadline",
        "late_after": f"within {spec.deadline_minutes} minutes of being queued",
    }
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=spec.deadline_minutes),
        callback=AsyncCallback("agentjobs.notifications.alert.JobAlertNotifier", kwargs=kwargs),
    )


def build_dag(spec: JobSpec, skills_dir: Path | None = None) -> DAG:
    """The job's DAG; `skills_dir` None means $AGENTJOBS_SKILLS_DIR or ./include/skills at run time.

    Around the tasks the kind's graph builds (operators/graph.py): schedule, retries, caps, the
    callbacks and deadline, and the run's one failure alert after every task.
    """
    tz = ZoneInfo(spec.timezone)
    graph = task_graph(spec)
    # Sized once: the timeout, its callback's message and the deadline's check all use it.
    stopped_after = graph.dagrun_timeout(spec)
    with DAG(
        dag_id=spec.dag_id,
        description=spec.description or spec.title,
        doc_md=spec.description or None,
        schedule=CronTriggerTimetable(spec.schedule, timezone=spec.timezone),
        start_date=datetime.combine(spec.start_date, time(0), tzinfo=tz),
        catchup=spec.catchup,
        max_active_runs=1,  # the CronJob's concurrencyPolicy: Forbid
        dagrun_timeout=stopped_after,
        on_failure_callback=timeout_callbacks(spec, stopped_after),
        default_args={
            **DEFAULT_ARGS,
            "retries": spec.retries,
            "retry_delay": timedelta(seconds=spec.retry_delay_s),
            "on_failure_callback": alert_callbacks(spec),
        },
        params={
            "force_redeliver": param(False, "Deliver again even if delivered.", type="boolean"),
            "refetch": param(False, "Fetch the sources again, not the snapshot.", type="boolean"),
            "resummarize": param(
                False,
                "Ask the model again even if this day was delivered "
                "(send the new digest with force_redeliver).",
                type="boolean",
            ),
            "caps": caps_param(spec.caps),
            **graph.params(spec),
        },
        tags=["agentjobs", *spec.tags],
        deadline=deadline_alert(spec, stopped_after),
        # Only what the DAG file exports is a DAG: a build that fails half-way leaves nothing behind.
        auto_register=False,
    ) as dag:
        graph.build(spec, skills_dir)
        run_alert_task(spec, dag)
    return dag


HEALTH_DAG_ID = "agentjobs_health"


def health_dag(specs: list[JobSpec], broken: list[BrokenSpec] | None = None) -> DAG:
    """Hourly: alert on any job whose last success is older than 1.5 intervals, that keeps failing,
    or whose spec is broken (and then fail, so the health DAG shows red until it is fixed)."""
    from agentjobs.operators.health import JobHealthOperator

    with DAG(
        dag_id=HEALTH_DAG_ID,
        description="Alerts on jobs that stopped succeeding, keep failing, or whose spec is broken",
        schedule=CronTriggerTimetable("17 * * * *", timezone="UTC"),
        start_date=datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")),
        catchup=False,
        max_active_runs=1,
        default_args={"owner": "agentjobs", "retries": 1, "retry_delay": timedelta(minutes=5)},
        tags=["agentjobs"],
        auto_register=False,
    ) as dag:
        JobHealthOperator(task_id="check_jobs", specs=specs, broken=list(broken or ()))
    return dag


def split_ledger(path: Path, spec: JobSpec) -> BrokenSpec | None:
    """The job, left out, when its ledger is a file on one host while the configured executor
    may run its tasks on others (hooks/ledger_hosts.py); None when its ledger is fine here."""
    problem = ledger_hosts.refusal_at_parse(spec.dag_id, spec.ledger_conn_id)
    if problem is None:
        return None
    return BrokenSpec(path, f"{path}: {problem}", spec.dag_id, spec.alert, spec.ledger_conn_id)


def verdict_fingerprint(folder: Path) -> str:
    # The executor and the ledger settings decide a verdict too (split_ledger): a changed one
    # is judged again, not recalled.
    return spec_verdict.fingerprint(folder, ledger_hosts.parse_inputs())


def dags_from_folder(folder: Path) -> dict[str, DAG]:
    """One DAG per good spec in `folder`, plus the health check.

    A broken spec (or one whose DAG fails to build, or whose ledger could split across worker
    hosts) leaves out only its own job: it is logged, the health DAG names it in its alert, and
    dags/agentjobs_spec_errors.py shows it as an import error. Raising here instead would hide
    every job behind one typo.
    """
    project = folder.parent.parent
    fingerprint = verdict_fingerprint(folder)  # before reading: an edit meanwhile changes it
    loaded, broken = load_folder(folder)
    # The skills beside the specs, whatever folder the worker runs in, unless the environment
    # names another folder (read at run time).
    skills_dir = None if os.environ.get(SKILLS_DIR_ENV) else project / "include" / "skills"
    dags: dict[str, DAG] = {}
    built: list[JobSpec] = []
    for path, spec in loaded.items():
        refused = split_ledger(path, spec)
        if refused is not None:
            broken.append(refused)
            continue
        try:
            dags[spec.dag_id] = build_dag(resolve_paths(spec, project), skills_dir)
        except Exception as exc:  # an Airflow refusal the spec checks missed: still only this job
            error = " ".join(f"{path}: cannot build the job's DAG: {type(exc).__name__}: {exc}".split())
            broken.append(BrokenSpec(path, error, spec.dag_id, spec.alert, spec.ledger_conn_id))
            continue
        built.append(spec)
    # After the builds: a spec that loads but whose DAG Airflow refuses is reported by
    # agentjobs_spec_errors.py too, not only by the health DAG.
    spec_verdict.remember(folder, fingerprint, [spec.error for spec in broken])
    for spec in broken:
        log.error("job spec left out: %s", spec.error)
    if built or broken:
        dags[HEALTH_DAG_ID] = health_dag(built, broken)
    return dags


def raise_for_broken_specs(folder: Path) -> None:
    """Raise one JobSpecError listing every spec of `folder` that does not load, or whose ledger
    could split across worker hosts (the DAG file agentjobs_spec_errors.py calls it, so they show
    as an import error of that file alone).

    The verdict the jobs DAG file left for the same specs, code and ledger settings is reported
    as it stands (jobs/spec_verdict.py); only without one are the specs validated (and the
    verdict left).
    """
    fingerprint = verdict_fingerprint(folder)
    errors = spec_verdict.recall(folder, fingerprint)
    if errors is None:
        loaded, broken = load_folder(folder)
        broken += filter(None, (split_ledger(path, spec) for path, spec in loaded.items()))
        errors = [spec.error for spec in broken]
        spec_verdict.remember(folder, fingerprint, errors)
    if errors:
        count = f"{len(errors)} job spec(s) left out; fix them and the jobs come back"
        raise JobSpecError("\n".join([count, *errors]))

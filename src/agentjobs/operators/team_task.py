"""What every per-team task of a fan-out job shares: the team's run it was mapped over, resolved once.

The fetch task hands each mapped task one `team_run` ({"team": id, "period": key}); every task
after it needs the same things from it: the job's kind and its settings, the team and period
(checked: they name a folder and a ledger key), the team's folder and its snapshot. The
operators have different Airflow bases (AgentOperator, HITLOperator, JobTaskOperator), so the
shared part is a mixin, `TeamTask`, and a plain task's base, `TeamTaskOperator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.kinds.registry import fan_out_kind
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.job_task import JobTaskOperator

if TYPE_CHECKING:
    from agentjobs.jobs.kinds.base import FanOutKind, TeamSnapshot


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class TeamContext(NamedTuple):
    """One mapped task's team and period, with the kind and the folder they resolve to."""

    dag_id: str
    kind: FanOutKind
    settings: Any  # the kind's spec section, validated
    team_id: str
    period_key: str
    work_dir: Path

    def snapshot(self) -> TeamSnapshot:
        """Read when asked, not when built: a task that fails before needing it names the real cause."""
        from agentjobs.jobs.team_run import load_snapshot

        return load_snapshot(self.work_dir)

    def ledger_key(self) -> tuple[str, str]:
        """(job, logical date) of the ledger's rows for this team's period."""
        from agentjobs.jobs.team_run import ledger_key

        return ledger_key(self.dag_id, self.team_id, self.period_key)

    def ledger_job(self) -> str:
        """The ledger's job for rows keyed by a day of their own (a member's day, a stored report)."""
        from agentjobs.jobs.team_run import ledger_job

        return ledger_job(self.dag_id, self.team_id)


def job_kind(spec: JobSpec) -> tuple[FanOutKind, Any]:
    """The fan-out job's kind and its validated settings."""
    return fan_out_kind(spec.kind), spec.kind_settings()


def team_context(spec: JobSpec, team_run: Any) -> TeamContext:
    from agentjobs.jobs.team_run import team_dir, team_key

    kind, settings = job_kind(spec)
    team_id, period_key = team_key(team_run)
    return TeamContext(
        spec.dag_id, kind, settings, team_id, period_key, team_dir(spec.dag_id, team_id, period_key)
    )


def sql_conn_id(spec: JobSpec) -> str:
    """The business database's connection of a task that reads or writes it; refused when the
    DAG is built, so a spec without one never gets as far as a run."""
    if spec.sources.sql is None:
        raise ValueError(f"job {spec.dag_id!r} has no sql source")
    return spec.sources.sql.conn_id


def push_failure(context: Any, exc: BaseException, log: Any) -> None:
    """Leave the failed try's error, as one scrubbed line, for the UI row of the team (a later
    try that succeeds starts with its XComs cleared). A push that fails must not hide `exc`."""
    from agentjobs.agent.runner import scrub_failure  # run-time: the runner is no parse's cost
    from agentjobs.jobs.team_run import STEP_FAILURE_KEY

    try:
        context["ti"].xcom_push(key=STEP_FAILURE_KEY, value=scrub_failure(exc, ()))
    except Exception as push_error:
        log.warning("could not record the failure for the UI page: %s", type(push_error).__name__)


class TeamTask:
    """Mixin of a task mapped over the fetch task's teams: holds the spec and the team's run."""

    spec: JobSpec
    team_run: Any  # templated: rendered to this mapped task's dict before `execute`

    def team_context(self) -> TeamContext:
        return team_context(self.spec, self.team_run)


class TeamTaskOperator(JobTaskOperator, TeamTask):
    """A plain per-team task (validate, apply, publish, deliver). Subclasses implement `run` and
    set `spec` and `team_run` in their own __init__ (no __init__ here: see JobTaskOperator).

    The operator base comes first: Airflow wraps a class's __init__ again whenever it differs
    from its first base's, and the mixin's (object's) would differ."""

    template_fields: Sequence[str] = ("team_run",)

    def execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        except Exception as exc:  # already scrubbed (JobTaskOperator.execute)
            push_failure(context, exc, self.log)
            raise

    def run_folders(self, context: Any) -> list[Path]:
        """Its team's folder only: the other teams' tasks may be running beside it."""
        return [self.team_context().work_dir]

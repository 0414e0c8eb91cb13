"""RunAlertOperator: a job run's one failure alert, sent once every other task has finished.

Alerting from each failed task paged once per task instance: a model endpoint down while a
fan-out served 30 teams paged 30 times, and one changed artifact failed every delivery
task of a digest and paged once per channel. This task, the last of every job's DAG
(trigger rule `all_done`, so it runs once the others have finished, after their retries),
asks Airflow which task instances of the run failed, reads why from the job's run log (each
task's failure callback, `RecordFailure`, wrote it there before the task was marked failed),
and sends one alert listing them, with the team of each per-team task.

It then fails itself, without a retry, so the run is marked failed: a run's state follows
its last tasks, and a green last task would hide the failures. In the Grid view the run
ends in a red `alert_on_failure` whose log repeats the list; a run with no failure ends
green and sends nothing. A fan-out run that served nobody never reaches it: its fetch skipped
every later task, this one too (operators/team_fetch.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import TriggerRule

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.spec import JobSpec
from agentjobs.notifications.alert import TaskFailure
from agentjobs.operators.base_init import init_base
from agentjobs.operators.errors import PermanentTaskError
from agentjobs.operators.job_task import JobTaskOperator
from agentjobs.operators.run_log import failure_label

ALERT_TASK_ID = "alert_on_failure"
FAN_OUT_FETCH_TASK_ID = "fetch"  # its XCom lists the teams, in map-index order
NO_REASON = "no reason recorded (the run log could not be written); see the task's log"


class RunFailed(PermanentTaskError):
    """Tasks of this run failed; the alert listing them has gone out."""


class RunAlertOperator(JobTaskOperator):
    ui_color = "#fde2e1"

    def __init__(self, *, spec: JobSpec, **kwargs: Any) -> None:
        kwargs.setdefault("task_id", ALERT_TASK_ID)
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        # Its own failure is the run's verdict, already alerted: recording or paging it again
        # would count the run twice.
        kwargs.setdefault("on_failure_callback", None)
        kwargs.setdefault("doc_md", "Sends the run's one failure alert and fails if any task failed.")
        init_base(self, **kwargs)
        self.spec = spec

    def run_folders(self, context: Any) -> list[Path]:
        return []  # it reads the run's task instances and XCom, no run file

    def run(self, context: Any) -> None:
        failures, served = self.failures(context)
        if not failures:
            self.log.info("No task of this run failed: no alert")
            return
        listing = "; ".join(f"{f'{f.team}: ' if f.team else ''}{f.task}: {f.reason}" for f in failures)
        if self.spec.alert is None:
            self.log.warning("The job has no `alert` channel; nobody is paged for: %s", listing)
        else:
            from agentjobs.notifications.alert import JobAlertNotifier

            notifier = JobAlertNotifier(**self.spec.alert_kwargs())
            notifier.notify({**context, "failures": failures, "teams_served": served})
        raise RunFailed(f"{len(failures)} task(s) of this run failed: {listing}")

    def failures(self, context: Any) -> tuple[list[TaskFailure], int | None]:
        """The run's failed task instances with their reasons, and how many teams it served."""
        ti, run_id = context["ti"], context["run_id"]
        failed = [
            (crumb["task_id"], int(crumb.get("map_index", -1)))
            for crumb in ti.get_task_breadcrumbs(dag_id=self.dag_id, run_id=run_id)
            if crumb.get("state") == "failed" and crumb["task_id"] != self.task_id
        ]
        teams = self.teams(context) if self.spec.fans_out else []
        reasons = self.recorded_reasons(run_id)
        found = []
        for task_id, map_index in sorted(failed, key=lambda item: (item[1], item[0])):
            label = failure_label(task_id, map_index)
            ids = teams[map_index] if 0 <= map_index < len(teams) else []
            team = ", ".join(self.failed_of_chunk(context, task_id, map_index, ids)) or None
            reason = reasons.get(label, NO_REASON)
            found.append(TaskFailure(task=task_id, reason=reason, team=team))
        return found, (sum(len(ids) for ids in teams) if self.spec.fans_out else None)

    def teams(self, context: Any) -> list[list[str]]:
        """The team of each map index: the fetch task's list, in order ([] if fetch failed); a
        chunk's teams joined (its task's reason names the ones that failed)."""
        from agentjobs.jobs.team_run import chunk_team_ids

        served = context["ti"].xcom_pull(task_ids=FAN_OUT_FETCH_TASK_ID)
        if not isinstance(served, list):
            return []
        return [chunk_team_ids(item) for item in served]

    @staticmethod
    def failed_of_chunk(context: Any, task_id: str, map_index: int, ids: list[str]) -> list[str]:
        """The teams of a failed chunk task that failed (its XCom `teams` marks each with an
        `error`), so the alert names them, not their chunk's neighbours; all of `ids` when it
        is one team or the task recorded no outcomes (it failed before its teams ran)."""
        from agentjobs.jobs.team_run import CHUNK_TEAMS_KEY

        if len(ids) <= 1:
            return ids
        pushed = context["ti"].xcom_pull(task_ids=task_id, key=CHUNK_TEAMS_KEY, map_indexes=map_index)
        if not isinstance(pushed, dict):
            return ids
        failed = [team for team in ids if isinstance(pushed.get(team), dict) and "error" in pushed[team]]
        return failed or ids

    def recorded_reasons(self, run_id: str) -> dict[str, str]:
        """label → the latest reason the run log holds for it in this run (a cleared and rerun
        task may have failed before, for another reason)."""
        from agentjobs.hooks.ledger import run_log

        try:
            details = run_log(self.spec.ledger_conn_id).run_failures(self.spec.dag_id, run_id)
        except Exception as exc:  # the alert must still go out, with the states Airflow knows
            self.log.warning("Cannot read the run log (%s); the alert lacks the reasons", type(exc).__name__)
            return {}
        reasons: dict[str, str] = {}
        for detail in details:
            label, separator, reason = detail.partition(": ")
            if separator:
                reasons[label] = reason
        return reasons

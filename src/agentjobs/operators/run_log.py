"""The failure callback that writes a failed task or run to the job's run log.

The run log itself (`agentjobs.jobs.health.JobRunLog`) is domain code: it takes an engine
and knows nothing of Airflow; `hooks.ledger.run_log` opens it on the ledger's connection.
This is the assembly side: a failure is read from an Airflow callback context.
"""

from __future__ import annotations

from typing import Any


def failure_label(task_id: str, map_index: int | None) -> str:
    """A task instance as the run log names it: `team.summarize[2]` for a mapped one. The run's
    alert (RunAlertOperator) finds each failed task instance's reason by this label."""
    return f"{task_id}[{map_index}]" if map_index is not None and map_index >= 0 else task_id


class RecordFailure:
    """A task (or DAG) failure callback that writes the failure to the job's run log."""

    def __init__(self, job: str, ledger_conn_id: str | None) -> None:
        self.job = job
        self.ledger_conn_id = ledger_conn_id

    def __call__(self, context: Any) -> None:
        from agentjobs.agent.scrub import scrub  # run time: a DAG parse needs none
        from agentjobs.hooks.ledger import run_log

        exc = context.get("exception")
        ti = context.get("ti")
        # A run stopped by its dagrun_timeout has no exception, only the scheduler's reason.
        if context.get("reason") == "timed_out":
            what = "the run timed out (dagrun_timeout)"
        else:
            what = f"{type(exc).__name__}: {exc}"
        label = failure_label(getattr(ti, "task_id", "?"), getattr(ti, "map_index", None))
        detail = scrub(f"{label}: {what}")
        run_log(self.ledger_conn_id).record(self.job, context["run_id"], "failure", detail)

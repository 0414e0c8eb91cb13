"""The job run log on the ledger's connection, and the failure callback that writes to it.

The run log itself (`agentjobs.jobs.health.JobRunLog`) is domain code: it takes an engine
and knows nothing of Airflow. This is the assembly side: the engine comes from the ledger's
connection (`LedgerHook`), and a failure is read from an Airflow callback context.
"""

from __future__ import annotations

from typing import Any

from agentjobs.agent.scrub import scrub
from agentjobs.hooks.ledger import LedgerHook
from agentjobs.jobs.health import JobRunLog


def run_log(conn_id: str | None) -> JobRunLog:
    """The run log in the ledger's database, on the engine the ledger uses."""
    return JobRunLog(LedgerHook(conn_id).get_engine())


class RecordFailure:
    """A task (or DAG) failure callback that writes the failure to the job's run log."""

    def __init__(self, job: str, ledger_conn_id: str | None) -> None:
        self.job = job
        self.ledger_conn_id = ledger_conn_id

    def __call__(self, context: Any) -> None:
        exc = context.get("exception")
        ti = context.get("ti")
        # A run stopped by its dagrun_timeout has no exception, only the scheduler's reason.
        if context.get("reason") == "timed_out":
            what = "the run timed out (dagrun_timeout)"
        else:
            what = f"{type(exc).__name__}: {exc}"
        detail = scrub(f"{getattr(ti, 'task_id', '?')}: {what}")
        run_log(self.ledger_conn_id).record(self.job, context["run_id"], "failure", detail)

"""`agentjobs eval` on a run-file store: the job's last runs pulled into a scratch folder.

With `[agentjobs] run_files` set (hooks/run_file_store.py) a job's runs are on the store alone,
so the evaluation copies the run folders it replays, and only those, into a local scratch
artifact base (operators/run_files.py's `pull`: the same copy a task works in) and reruns them
there as it reruns local ones. The copy is the evaluation's own: its reruns' files stay in it
and go when it does; the store gets the report alone (hooks/stored_evals.py).
"""

from __future__ import annotations

from pathlib import Path

from agentjobs.hooks.run_file_store import RunFileStore
from agentjobs.hooks.stored_evals import pull_error, stored_run_folders
from agentjobs.jobs.stored_runs import StoredRun
from agentjobs.operators.run_files import pull


def pulled_runs(
    store: RunFileStore, dag_id: str, *, fans_out: bool, last_n: int, scratch: Path
) -> list[StoredRun]:
    """The job's last `last_n` runs on `store` (per team for a fan-out job), each pulled into
    `scratch` at its place below the artifact base; a refused read raises StoreReadError."""
    runs = []
    for relative, period, team in stored_run_folders(store, dag_id, fans_out=fans_out, last_n=last_n):
        local = scratch / relative
        try:
            pull(store.remote(relative), local)
        except Exception as exc:
            raise pull_error(store, relative, exc) from exc
        runs.append(StoredRun(local, period, team))
    return runs

"""A job's stored runs and evaluation reports on the run-file store (hooks/run_file_store.py).

With `[agentjobs] run_files` set, a job's runs live only on the store, so `agentjobs eval` lists
them there (cli/eval_store.py pulls the ones it replays) and keeps its report there, at
`<run_files>/<dag_id>/_evals/<eval id>.json`, where the UI page reads it. Nothing else is
written: the runs' own objects are only read. Any error of the store other than "absent" (a
refused credential, a missing bucket) is a StoreReadError naming the URL, never an empty result:
a user must not read "no runs" when the store said no.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from agentjobs.hooks.run_file_store import Remote, RunFileStore
from agentjobs.jobs.artifacts import dag_folder
from agentjobs.jobs.evaluation import EVALS_DIR, Evaluation, read_evaluations, report_name, report_text
from agentjobs.jobs.stored_runs import run_folders

RunFolder = tuple[PurePosixPath, str, str | None]  # (folder below the store, period, team)


class StoreReadError(RuntimeError):
    """The run-file store refused a read or a write; the message names the URL (no credentials)."""


def _failed(store: RunFileStore, relative: PurePosixPath, what: str, exc: Exception) -> StoreReadError:
    # The URL as configured holds no credentials (configured_store refuses them); the error's
    # own text is the store's answer (e.g. "AccessDenied"), one line.
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
    return StoreReadError(f"could not {what} {store.uri(relative)}: {reason}")


def _job(dag_id: str) -> PurePosixPath:
    """The job's folder below the store; a dag_id that would leave it ('..', 'a/b') is refused."""
    dag_folder(dag_id)  # raises ValueError as the local artifact base does
    return PurePosixPath(dag_id)


def _subfolders(store: RunFileStore, relative: PurePosixPath) -> list[str]:
    """The names of the folders directly in `relative`; none when it is absent."""
    remote = store.remote(relative)
    try:
        entries = remote.fs.ls(remote.root, detail=True)
    except FileNotFoundError:
        return []
    except Exception as exc:
        raise _failed(store, relative, "list", exc) from exc
    prefix = f"{remote.root.rstrip('/')}/"
    return [
        entry["name"][len(prefix) :]
        for entry in entries
        if entry.get("type") == "directory" and entry["name"].startswith(prefix)
    ]


def stored_run_folders(store: RunFileStore, dag_id: str, *, fans_out: bool, last_n: int) -> list[RunFolder]:
    """The job's last `last_n` run folders on the store (per team for a fan-out job), listed one
    level at a time: a job's years of runs are never listed file by file."""
    job = _job(dag_id)
    chosen = run_folders(lambda rel: _subfolders(store, job / rel), fans_out=fans_out, last_n=last_n)
    return [(job / relative, period, team) for relative, period, team in chosen]


def pull_error(store: RunFileStore, relative: PurePosixPath, exc: Exception) -> StoreReadError:
    return _failed(store, relative, "read", exc)


def _evals_remote(store: RunFileStore, dag_id: str) -> tuple[PurePosixPath, Remote]:
    relative = _job(dag_id) / EVALS_DIR
    return relative, store.remote(relative)


def write_stored_evaluation(store: RunFileStore, evaluation: Evaluation) -> str:
    """Put the report at `<store>/<dag_id>/_evals/<eval id>.json`; its URL."""
    relative, remote = _evals_remote(store, evaluation.job)
    target = remote.of(report_name(evaluation))
    try:
        remote.fs.makedirs(remote.root, exist_ok=True)  # a file:// store needs its folder
        remote.fs.pipe_file(target, report_text(evaluation).encode("utf-8"))
    except Exception as exc:
        raise _failed(store, relative, "write the report to", exc) from exc
    return store.uri(relative / report_name(evaluation))


def load_stored_evaluations(store: RunFileStore, dag_id: str) -> tuple[list[Evaluation], list[str]]:
    """The job's evaluations on the store, newest first, and the reports that could not be read."""
    relative, remote = _evals_remote(store, dag_id)
    try:
        names = [name for name in remote.files() if "/" not in name]
    except Exception as exc:
        raise _failed(store, relative, "list", exc) from exc

    def read(name: str) -> bytes:
        try:
            return remote.fs.cat_file(remote.of(name))
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise _failed(store, relative / name, "read", exc) from exc

    return read_evaluations(names, read)

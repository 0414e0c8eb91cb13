"""Which specs of a jobs folder do not load, remembered between the two DAG files' parses.

The DAG processor parses dags/agentjobs_jobs.py and dags/agentjobs_spec_errors.py in separate
processes, every few seconds. Both need the folder's broken specs: the jobs file validates
every spec to build the DAGs, and the errors file would validate them all again (importing
every kind's modules) only to raise for the broken ones. So whichever validates leaves its
verdict, the broken specs' error lines, in a small file under $AIRFLOW_HOME, keyed by a
fingerprint of all the verdict depends on: each spec file's name and bytes, and the agentjobs
code that judged them (its version, and each module's size and modification time). The errors
file reports from a verdict whose fingerprint still matches and validates itself otherwise. A
verdict that cannot be written or read is not used: the file is only a shortcut.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from agentjobs import __version__

log = logging.getLogger(__name__)
VERDICTS_DIR = "agentjobs-spec-verdicts"
_PACKAGE = Path(__file__).resolve().parents[1]  # src/agentjobs


def fingerprint(folder: Path, settings: str = "") -> str:
    """Changes whenever a spec of `folder` (its name or bytes), agentjobs' code or `settings`
    (what else the caller's verdict depends on, e.g. the executor) changes."""
    digest = hashlib.sha256(__version__.encode())
    digest.update(f"{settings}\n".encode())
    for line in sorted(_module_stamps(str(_PACKAGE))):
        digest.update(line.encode())
    for spec in sorted(folder.glob("*.yaml")):  # as load_folder reads them
        try:
            content = spec.read_bytes()
        except OSError as exc:  # unreadable: load_folder reports it; the verdict keeps the reason
            content = f"unreadable: {exc}".encode()
        digest.update(f"{spec.name}:{len(content)}\n".encode())
        digest.update(content)
    return digest.hexdigest()


def _module_stamps(folder: str) -> Iterator[str]:
    """`path:size:mtime` of every module below `folder` (os.scandir: a parse pays for this)."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                yield from _module_stamps(entry.path)
            elif entry.name.endswith(".py"):
                stat = entry.stat()
                yield f"{entry.path}:{stat.st_size}:{stat.st_mtime_ns}\n"


def verdict_file(folder: Path) -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    name = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return home / VERDICTS_DIR / f"{name}.json"


def remember(folder: Path, fingerprint_: str, errors: list[str]) -> None:
    """Leave the verdict for `folder` (unless the same one is there: a steady folder writes nothing)."""
    if recall(folder, fingerprint_) == errors:
        return
    from agentjobs.atomic_file import write_atomically  # only a changed verdict is written

    target = verdict_file(folder)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, json.dumps({"fingerprint": fingerprint_, "errors": errors}))
    except OSError as exc:  # e.g. a read-only $AIRFLOW_HOME: the errors file validates itself
        log.debug("cannot keep the spec verdict in %s: %s", target, exc)


def recall(folder: Path, fingerprint_: str | None = None) -> list[str] | None:
    """The broken specs' error lines of `folder`, if a verdict with its current fingerprint is kept."""
    try:
        kept = json.loads(verdict_file(folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    current = fingerprint_ or fingerprint(folder)
    if not isinstance(kept, dict) or kept.get("fingerprint") != current:
        return None
    errors = kept.get("errors")
    if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
        return None
    return errors

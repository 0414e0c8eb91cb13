"""A replay evaluation's report: per stored run, what was delivered beside what another model or
skill made of the same snapshot; its totals; where it is kept and how it is read back.

Domain code (no Airflow): the `agentjobs eval` command writes it, the UI page reads it. The report
of an evaluation is `<artifact base>/<dag_id>/_evals/<eval id>.json` (no team id or day starts
with `_`, so it is never taken for a run folder); each rerun's own files are in
`<run folder>/eval/<eval id>/`, beside, never over, the run's own files. With a run-file store,
the report is kept at the same place below the store (hooks/stored_evals.py), read and written
as the text here makes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from agentjobs.atomic_file import write_atomically
from agentjobs.jobs.artifacts import dag_folder
from agentjobs.lazy_pattern import lazy

EVALS_DIR = "_evals"
RUN_EVAL_DIR = "eval"
# What an evaluation id may be: it names a file and a folder, and is shown on the page.
EVAL_ID_RE = lazy(r"[0-9]{8}T[0-9]{6}Z(?:-[A-Za-z0-9_.-]{1,64})?")
# How the checks word a grounding failure (jobs/digest_check.py, the kinds' `check`): a number
# "states '12.5%', which no value ... supports" (anomaly flags: "states 12, which the data ..."),
# a name "names 'Acme', which is in no row ...". A check stops at its first failure, so a
# fan-out kind's rerun counts at most one; the digest's check lists every bullet's.
_NUMBER_FAILURE = re.compile(r"\bstates (?:(['\"]).*?\1|[^\s'\"][^'\"]*?),? which (?:no |the data|is none)")
_NAME_FAILURE = re.compile(r"\bnames (['\"]).*?\1, which is in no")


class Side(BaseModel):
    """One side of a run's row: what was delivered, or the rerun's outcome."""

    contract_ok: bool
    items: int | None = None
    numbers: int = 0  # grounding violations: numbers the snapshot does not support
    names: int = 0  # grounding violations: names the snapshot does not hold
    tokens: int | None = None
    cost_usd: float | None = None
    latency_s: float | None = None
    calls: int | None = None
    model: str | None = None
    error: str | None = None  # why the contract failed (scrubbed, one line)


class RunRow(BaseModel):
    run: str  # the run folder below the job's: "<day>" or "<team>/<period>"
    team: str | None = None
    period: str
    delivered: Side | None = None
    evaluated: Side | None = None
    skipped: str | None = None  # why nothing was rerun (e.g. no snapshot in the folder)


class Totals(BaseModel):
    runs: int = 0
    passed: int = 0
    pass_rate: float | None = None
    numbers: int = 0
    names: int = 0
    items: int = 0
    tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0


class Evaluation(BaseModel):
    eval_id: str
    job: str
    llm_conn_id: str
    model: str | None = None
    skills_dir: str | None = None
    created: datetime
    rows: list[RunRow] = Field(default_factory=list)

    def totals(self, side: str) -> Totals:
        """The totals of one side ("delivered" or "evaluated") over the runs that were rerun."""
        sides = [getattr(row, side) for row in self.rows if row.skipped is None]
        found = [s for s in sides if s is not None]
        totals = Totals(runs=len(found), passed=sum(s.contract_ok for s in found))
        totals.pass_rate = round(totals.passed / totals.runs, 4) if totals.runs else None
        totals.numbers = sum(s.numbers for s in found)
        totals.names = sum(s.names for s in found)
        totals.items = sum(s.items or 0 for s in found)
        totals.tokens = sum(s.tokens or 0 for s in found)
        costs = [s.cost_usd for s in found if s.cost_usd is not None]
        # Unknown (no prices) stays unknown rather than reading as free.
        totals.cost_usd = round(sum(costs), 6) if costs and len(costs) == len(found) else None
        totals.latency_s = round(sum(s.latency_s or 0.0 for s in found), 3)
        return totals

    def as_json(self) -> dict[str, object]:
        data = self.model_dump(mode="json")
        data["totals"] = {side: self.totals(side).model_dump() for side in ("delivered", "evaluated")}
        return data


def grounding_counts(problem: str) -> tuple[int, int]:
    """(numbers, names): how many grounding failures a check's message reports."""
    return len(_NUMBER_FAILURE.findall(problem)), len(_NAME_FAILURE.findall(problem))


def new_eval_id(now: datetime, label: str) -> str:
    """`<UTC time>-<label>`, the label cut to what may name a file (the connection id)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.")[:64]
    return now.strftime("%Y%m%dT%H%M%SZ") + (f"-{safe}" if safe else "")


def evals_folder(dag_id: str) -> Path:
    return dag_folder(dag_id) / EVALS_DIR


def report_name(evaluation: Evaluation) -> str:
    return f"{evaluation.eval_id}.json"


def report_text(evaluation: Evaluation) -> str:
    """The report file's text: the evaluation and its totals."""
    return json.dumps(evaluation.as_json(), indent=2)


def write_evaluation(evaluation: Evaluation) -> Path:
    path = evals_folder(evaluation.job) / report_name(evaluation)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, report_text(evaluation))
    return path


def read_evaluations(
    names: Iterable[str], read: Callable[[str], bytes]
) -> tuple[list[Evaluation], list[str]]:
    """The reports among `names` (files of a job's `_evals` folder, wherever it is kept), each
    read with `read`, newest first, and the names of those that could not be read."""
    found: list[Evaluation] = []
    broken: list[str] = []
    for name in sorted(names, reverse=True):
        if not name.endswith(".json") or not EVAL_ID_RE.fullmatch(name[: -len(".json")]):
            continue
        try:
            found.append(Evaluation.model_validate_json(read(name)))
        except (OSError, ValueError, ValidationError):
            broken.append(name)
    return found, broken


def load_evaluations(dag_id: str) -> tuple[list[Evaluation], list[str]]:
    """The job's evaluations in the artifact base, newest first, and the report files that could
    not be read."""
    try:
        folder = evals_folder(dag_id)
    except ValueError:  # a dag_id that cannot name a folder has no evaluations
        return [], []
    if not folder.is_dir():
        return [], []
    return read_evaluations(
        [p.name for p in folder.glob("*.json")], lambda name: (folder / name).read_bytes()
    )

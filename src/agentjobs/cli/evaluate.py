"""`agentjobs eval JOB --runs LAST_N --llm-conn OTHER [--skills DIR]`: replay stored runs and compare.

Every run keeps its snapshot, so the job's last runs can be asked again of another model (an
`agentjobs_llm` connection) or another version of the skills, through the job's own plan,
contract and checks (cli/rerun.py), without delivering anything: no channel, no ledger, no
write. The report puts each rerun beside what the run delivered (its stored artifact checked
again, its transcript's tokens and time): contract pass rate, grounding violations (numbers
and names), items, tokens, cost and latency, per run and in total. It is printed as a table
(or JSON with --json) and kept as `<artifact base>/<job>/_evals/<eval id>.json`, where the UI
page lists it. With a run-file store (`[agentjobs] run_files`), the runs are read from the store
(cli/eval_store.py) and the report is kept there, in the same place below it. This is how a
user decides to switch models or ship a prompt change.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from agentjobs.cli.project import project_dir
from agentjobs.cli.run import find_spec
from agentjobs.jobs.artifacts import ARTIFACT_BASE_ENV

SKIPPED_NO_SNAPSHOT = "skipped: no snapshot (sources/*.json) in its folder"


def run_eval(args: argparse.Namespace) -> int:
    """The evaluation; with --json, stdout is the report alone: whatever else is printed while it
    runs (Airflow's own warnings, which its logging writes to stdout) goes to stderr."""
    if not args.json:
        evaluation, path = _evaluate(args)
        print(table(evaluation))
        print(f"\nagentjobs: report written to {path}")
        return 0
    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        evaluation, path = _evaluate(args)
        print(f"agentjobs: report written to {path}")
    print(json.dumps(evaluation.as_json(), indent=2), file=real_stdout)
    return 0


def _evaluate(args: argparse.Namespace) -> tuple[Any, str]:
    """Every stored run replayed and compared; the report and where it was written. With a
    run-file store configured, the runs are read from it into a scratch folder that goes after."""
    project = project_dir()
    out = (args.out or Path(os.environ.get(ARTIFACT_BASE_ENV) or "agentjobs-out")).resolve()
    with tempfile.TemporaryDirectory(prefix="agentjobs-eval-") as scratch:
        # Airflow's configuration (where the store is named) is read once its home is settled.
        _environment(out if out.is_dir() else Path(scratch), project, args.verbose)
        store = _configured_store()
        if store is None and not out.is_dir():
            raise SystemExit(f"agentjobs: no folder {out}; give the folder holding the job's runs with --out")
        spec = find_spec(project, args.job)
        runs, where = _stored(spec, args.runs, store, Path(scratch) / "runs")
        if not runs:
            raise SystemExit(f"agentjobs: no stored runs of {spec.dag_id} in {where}")
        evaluation = _replay(spec, runs, args)
        if store is None:
            from agentjobs.jobs.evaluation import write_evaluation

            return evaluation, str(write_evaluation(evaluation))
        from agentjobs.hooks.stored_evals import StoreReadError, write_stored_evaluation

        try:
            return evaluation, write_stored_evaluation(store, evaluation)
        except StoreReadError as exc:
            raise SystemExit(f"agentjobs: {exc}") from None


def _configured_store() -> Any:
    from agentjobs.hooks.run_file_store import RunFileStoreError, configured_store

    try:
        return configured_store()
    except RunFileStoreError as exc:
        raise SystemExit(f"agentjobs: {exc}") from None


def _stored(spec: Any, last_n: int, store: Any, scratch: Path) -> tuple[list[Any], str]:
    """The job's last runs, and where they were looked for: the artifact base, or the store (each
    run pulled into `scratch`, made the artifact base, so the reruns' files stay local)."""
    from agentjobs.jobs.artifacts import dag_folder

    if store is None:
        from agentjobs.jobs.stored_runs import stored_runs

        return stored_runs(spec.dag_id, fans_out=spec.fans_out, last_n=last_n), str(dag_folder(spec.dag_id))
    from agentjobs.cli.eval_store import pulled_runs
    from agentjobs.hooks.stored_evals import StoreReadError

    scratch.mkdir()
    os.environ[ARTIFACT_BASE_ENV] = str(scratch)
    try:
        runs = pulled_runs(store, spec.dag_id, fans_out=spec.fans_out, last_n=last_n, scratch=scratch)
    except StoreReadError as exc:
        raise SystemExit(f"agentjobs: {exc}") from None
    return runs, store.uri(PurePosixPath(spec.dag_id))


def _replay(spec: Any, runs: list[Any], args: argparse.Namespace) -> Any:
    from agentjobs.agent.skills import default_skills_dir, load_skill
    from agentjobs.jobs.evaluation import Evaluation, new_eval_id

    skills_dir = Path(args.skills).resolve() if args.skills else default_skills_dir()
    skill = load_skill(spec.skill, skills_dir)
    model = open_model(spec, args)
    evaluation = Evaluation(
        eval_id=new_eval_id(datetime.now(UTC), args.llm_conn),
        job=spec.dag_id,
        llm_conn_id=args.llm_conn,
        model=model.client.model,
        skills_dir=str(skills_dir) if args.skills else None,
        created=datetime.now(UTC),
    )
    print(f"agentjobs: evaluating {len(runs)} stored run(s) of {spec.dag_id} on {describe(evaluation)}")
    prices_of = _job_prices(spec)
    try:
        evaluation.rows = [_row(spec, run, evaluation.eval_id, model, skill, prices_of) for run in runs]
    finally:
        model.client.close()
    return evaluation


def _environment(out: Path, project: Path, verbose: bool) -> None:
    """The runs' folder as the artifact base; Airflow's own configuration (its connections) as the
    shell has it, or, with none, the command's own home in the output folder as `run` makes it."""
    os.environ[ARTIFACT_BASE_ENV] = str(out)
    if not os.environ.get("AIRFLOW_HOME"):
        home = out / ".airflow"
        home.mkdir(parents=True, exist_ok=True)
        os.environ["AIRFLOW_HOME"] = str(home)
        os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
        os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("AGENTJOBS_SKILLS_DIR", str(project / "include" / "skills"))
    if not verbose:
        logging.getLogger("agentjobs").setLevel(logging.ERROR)


def open_model(spec: Any, args: argparse.Namespace) -> Any:
    """The connection to evaluate, under the job's caps (with the command's overrides); a cost
    cap is dropped, and said so, when the connection prices nothing for its model."""
    from agentjobs.agent.errors import PermanentAgentError
    from agentjobs.agent.runner import check_caps_enforceable
    from agentjobs.cli.rerun import Model
    from agentjobs.hooks.llm import LLMHook

    hook = LLMHook(args.llm_conn)
    client = hook.get_model_client(None)
    prices = hook.settings.prices_for(client.model)
    given = {
        "max_iterations": args.max_iterations,
        "max_total_tokens": args.max_tokens,
        "max_cost_usd": args.max_cost_usd,
    }
    caps = spec.caps.overridden({k: v for k, v in given.items() if v is not None})
    if prices is None and caps.max_cost_usd is not None and args.max_cost_usd is None:
        print(f"agentjobs: {args.llm_conn} prices nothing for {client.model}, so no cost cap and no cost")
        caps = caps.overridden({"max_cost_usd": None})
    try:
        check_caps_enforceable(caps, client.options, prices, client.model)
    except PermanentAgentError as exc:
        client.close()
        raise SystemExit(f"agentjobs: {exc}") from None
    return Model(client=client, prices=prices, secrets=list(hook.settings.secrets), caps=caps)


def _row(spec: Any, run: Any, eval_id: str, model: Any, skill: Any, prices_of: Any) -> Any:
    from agentjobs.cli.rerun import delivered_side, rerun
    from agentjobs.jobs.evaluation import RUN_EVAL_DIR, RunRow

    row = RunRow(run=run.label, team=run.team, period=run.period)
    if not run.has_snapshot():
        row.skipped = SKIPPED_NO_SNAPSHOT
        print(f"agentjobs: {run.label}: {SKIPPED_NO_SNAPSHOT}")
        return row
    row.delivered = delivered_side(spec, run, prices_of)
    row.evaluated = rerun(spec, run, run.folder / RUN_EVAL_DIR / eval_id, model, skill)
    return row


def _job_prices(spec: Any) -> Any:
    """The job's own connection's prices for a model (what the delivered run cost), when that
    connection can be read here; else nothing is known and the cost stays blank."""

    @functools.cache  # one connection lookup per model, not per run
    def prices_of(model: str | None) -> Any:
        if not model:
            return None
        try:
            from agentjobs.hooks.llm import LLMHook

            return LLMHook(spec.llm_conn_id).settings.prices_for(model)
        except Exception:  # not defined on this host: the delivered cost is unknown, not zero
            return None

    return prices_of


def describe(evaluation: Any) -> str:
    skills = f", skills of {evaluation.skills_dir}" if evaluation.skills_dir else ""
    return f"{evaluation.model} ({evaluation.llm_conn_id}){skills}"


# Short, as a terminal has room for: the two sides side by side, under a line naming each.
COLUMNS = ("contract", "items", "num", "names", "tokens", "cost", "s")


def _cells(side: Any) -> list[str]:
    if side is None:
        return ["-"] * len(COLUMNS)
    cost = "-" if side.cost_usd is None else f"${side.cost_usd:.4f}"
    latency = "-" if side.latency_s is None else f"{side.latency_s:.1f}"
    return [
        "pass" if side.contract_ok else "FAIL",
        "-" if side.items is None else str(side.items),
        str(side.numbers),
        str(side.names),
        "-" if side.tokens is None else str(side.tokens),
        cost,
        latency,
    ]


def _total_cells(totals: Any) -> list[str]:
    rate = "-" if totals.pass_rate is None else f"{totals.passed}/{totals.runs} {totals.pass_rate:.0%}"
    cost = "-" if totals.cost_usd is None else f"${totals.cost_usd:.4f}"
    return [
        rate,
        str(totals.items),
        str(totals.numbers),
        str(totals.names),
        str(totals.tokens),
        cost,
        f"{totals.latency_s:.1f}",
    ]


def table(evaluation: Any) -> str:
    """The report as a terminal table: each run's delivered side beside its rerun, then the totals
    (and the legend: num/names are grounding violations, s the seconds), then why reruns failed."""
    header = ["run", *COLUMNS, "|", *COLUMNS]
    rows = [header]
    notes = []
    for row in evaluation.rows:
        if row.skipped:
            rows.append([row.run, row.skipped])
            continue
        rows.append([row.run, *_cells(row.delivered), "|", *_cells(row.evaluated)])
        if row.evaluated is not None and row.evaluated.error:
            notes.append(f"  {row.run}: {row.evaluated.error[:300]}")
    delivered, evaluated = evaluation.totals("delivered"), evaluation.totals("evaluated")
    rows.append(["total", *_total_cells(delivered), "|", *_total_cells(evaluated)])
    # A skipped row's reason runs across the columns: it does not widen the first one.
    widths = [max(len(r[i]) for r in rows if len(r) == len(header)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    side = sum(widths[1 : 1 + len(COLUMNS)]) + 2 * len(COLUMNS)
    groups = " " * widths[0] + "  " + "delivered".ljust(side) + "| " + f"evaluated: {describe(evaluation)}"
    lines[1:1] = ["  ".join("-" * w for w in widths)]
    lines.insert(0, groups)
    lines.append("num, names: grounding violations (numbers, names); s: seconds")
    if notes:
        lines += ["", "Why reruns failed:", *notes]
    return "\n".join(lines)

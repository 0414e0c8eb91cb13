"""One stored run replayed on another model or skill, in a folder of its own, delivering nothing.

The rerun is the summarize task's plan over the run's stored snapshot (operators/digest.py's
`digest_plan`, operators/team_plan.py's `team_plan`), the model's answer rendered and held to
the skill's contract (agent/runner.py's `settle`) and to the job's checks (the digest's
`check_digest`, a kind's `check`): the same gates a scheduled run passes before delivery, and
nothing after them. Every file it writes goes to `<run>/eval/<eval id>/`: the snapshot is
copied there first, so a loop-mode model's tools read the copy and the run's own files are
only ever read. A rerun that fails (a cap, a broken contract, an endpoint's error) is a failed
contract in the report, never the end of the evaluation.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from agentjobs.jobs.evaluation import Side, grounding_counts
from agentjobs.jobs.stored_runs import SOURCES_DIR, StoredRun, transcript_usage

RESULT_FILE = "result.json"  # as operators/delivered.py writes it beside the artifact
LOG = logging.getLogger("agentjobs.eval")


@dataclass(frozen=True)
class Model:
    """The endpoint an evaluation asks: its client, prices (None: unknown) and secrets."""

    client: Any
    prices: Any
    secrets: list[str]
    caps: Any  # the job's caps, each rerun's own budget


def rerun(spec: Any, run: StoredRun, eval_dir: Path, model: Model, skill: Any) -> Side:
    """Replay `run` on `model` with `skill` in `eval_dir`; its side of the report."""
    from agentjobs.agent.budget import BudgetMeter, Prices
    from agentjobs.agent.scrub import scrub

    eval_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(run.folder / SOURCES_DIR, eval_dir / SOURCES_DIR, dirs_exist_ok=True)
    meter = BudgetMeter(model.caps, model.prices or Prices())
    started = time.monotonic()
    kept: dict[str, Any] = {}  # the RESULT once settled: its items count even if a check then fails
    error: str | None = None
    try:
        (_team if spec.fans_out else _digest)(spec, run, eval_dir, model, skill, meter, kept)
    except Exception as exc:  # any failure of the rerun is a failed contract, shown with its reason
        error = scrub(f"{type(exc).__name__}: {' '.join(str(exc).split())}", model.secrets)[:1000]
    latency = round(time.monotonic() - started, 3)
    result = kept.get("result")
    if result is not None:
        (eval_dir / RESULT_FILE).write_text(json.dumps(result, indent=2, sort_keys=True), encoding="utf-8")
    numbers, names = grounding_counts(error or "")
    usage = meter.usage
    return Side(
        contract_ok=error is None,
        items=_items(result),
        numbers=numbers,
        names=names,
        tokens=usage.total_tokens,
        cost_usd=round(usage.cost_usd, 6) if model.prices is not None else None,
        latency_s=latency,
        calls=usage.iterations,
        model=model.client.model,
        error=error,
    )


def _items(result: dict[str, Any] | None) -> int | None:
    if not isinstance(result, dict):
        return None
    items = result.get("items", result.get("count"))
    return items if isinstance(items, int) else None


def _answer(plan: Any, model: Model, meter: Any, finish: Any, allow_empty: bool) -> dict[str, Any]:
    from agentjobs.agent.runner import answer_plan, settle

    answer, _answered_by = answer_plan(plan, model.client, meter)
    return settle(plan, answer, finish=finish, allow_empty=allow_empty)


def _bound(plan: Any, skill: Any, eval_dir: Path, model: Model) -> Any:
    return plan.bind(
        skill,
        eval_dir,
        transcript_path=eval_dir / "transcript.jsonl",
        max_repairs=1,  # the AgentOperator's default, as the job's own run had
        secrets=model.secrets,
    )


def _digest(
    spec: Any, run: StoredRun, eval_dir: Path, model: Model, skill: Any, meter: Any, kept: dict[str, Any]
) -> None:
    from agentjobs.jobs.digest_check import check_digest
    from agentjobs.jobs.period import period_of_day
    from agentjobs.operators.digest import digest_plan, render_digest
    from agentjobs.sources.snapshot import Snapshot

    period = period_of_day(date.fromisoformat(run.period), spec.timezone, spec.period_days)
    plan = _bound(digest_plan(spec, skill, eval_dir, period), skill, eval_dir, model)

    def finish(answer: dict[str, Any]) -> dict[str, Any]:
        if plan.effective_mode == "loop":
            return answer
        return render_digest(spec, answer, plan, eval_dir, LOG)[0]

    result = kept["result"] = _answer(plan, model, meter, finish, spec.allow_empty)
    check_digest(
        eval_dir,
        result,
        Snapshot.load(eval_dir),
        commits_cap=spec.commits_cap,
        allow_empty=spec.allow_empty,
        job_sections=spec.sections,
    )


def _team(
    spec: Any, run: StoredRun, eval_dir: Path, model: Model, skill: Any, meter: Any, kept: dict[str, Any]
) -> None:
    from agentjobs.jobs.kinds.base import CheckFailed
    from agentjobs.operators.team_agent import render_team
    from agentjobs.operators.team_plan import run_mode, team_plan
    from agentjobs.operators.team_task import TeamContext, job_kind

    kind, settings = job_kind(spec)
    team = TeamContext(spec.dag_id, kind, settings, str(run.team), run.period, eval_dir)
    snapshot = team.snapshot()
    plan = _bound(team_plan(spec, team, snapshot, run_mode(spec, skill)), skill, eval_dir, model)
    # A team's empty period is a normal run of a fan-out job (TeamAgentOperator: allow_empty).
    result = kept["result"] = _answer(
        plan, model, meter, lambda a: render_team(spec, team, a, plan, eval_dir), True
    )
    markdown = (eval_dir / kind.artifact_file).read_text(encoding="utf-8")
    try:
        kind.check(snapshot, markdown, result, settings)
    except CheckFailed as exc:  # worded as the validate task words it
        raise CheckFailed(f"{kind.artifact_file} fails its check: {exc}") from None


def delivered_side(spec: Any, run: StoredRun, prices_of: Any) -> Side:
    """What the run delivered, read from its folder (never written): its RESULT, the same checks
    over its artifact and snapshot, and what its transcript says it spent."""
    from agentjobs.agent.scrub import scrub

    spent = transcript_usage(run.folder / "transcript.jsonl")
    error: str | None = None
    result: dict[str, Any] | None = None
    try:
        result = json.loads((run.folder / RESULT_FILE).read_text(encoding="utf-8"))
        _check_stored(spec, run, result)
    except FileNotFoundError:
        error = f"no {RESULT_FILE} in the run folder: the run did not finish its summary"
    except Exception as exc:
        error = scrub(f"{type(exc).__name__}: {' '.join(str(exc).split())}")[:1000]
    numbers, names = grounding_counts(error or "")
    prices = prices_of(spent.get("model")) if spent else None
    cost = prices.cost(spent["prompt_tokens"], spent["completion_tokens"]) if prices else None
    return Side(
        contract_ok=error is None,
        items=_items(result),
        numbers=numbers,
        names=names,
        tokens=spent.get("tokens"),
        cost_usd=round(cost, 6) if cost is not None else None,
        latency_s=spent.get("latency_s"),
        calls=spent.get("calls"),
        model=spent.get("model"),
        error=error,
    )


def _check_stored(spec: Any, run: StoredRun, result: dict[str, Any]) -> None:
    if not spec.fans_out:
        from agentjobs.jobs.digest_check import check_digest
        from agentjobs.sources.snapshot import Snapshot

        check_digest(
            run.folder,
            result,
            Snapshot.load(run.folder),
            commits_cap=spec.commits_cap,
            allow_empty=spec.allow_empty,
            job_sections=spec.sections,
        )
        return
    from agentjobs.jobs.team_run import load_snapshot
    from agentjobs.operators.team_task import job_kind

    kind, settings = job_kind(spec)
    markdown = (run.folder / kind.artifact_file).read_text(encoding="utf-8")
    kind.check(load_snapshot(run.folder), markdown, result, settings)

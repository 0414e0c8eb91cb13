"""DigestAgentOperator: the AgentOperator with the digest's prompt, schema and renderer.

In structured mode the model only judges (highlights and actions, picked by reference
from the snapshot) and digest.md is rendered here; a takeaway or action naming what the
snapshot lacks is dropped, and each drop is logged, added to the transcript and pushed to
XCom (key `dropped`). In loop mode a capable model reads
the snapshot with tools and writes digest.md itself. The validate task checks both alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.agent.errors import EmptyResult
from agentjobs.jobs.artifacts import DIGEST_FILE
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.agent import AgentOperator, init_agent
from agentjobs.operators.job_task import agent_defaults, job_run_dir, run_period

if TYPE_CHECKING:
    from agentjobs.agent.plan import RunPlan
    from agentjobs.agent.skills import Skill  # annotations only: its module is run-time


class DigestAgentOperator(AgentOperator):
    def __init__(self, *, spec: JobSpec, **kwargs: Any) -> None:
        init_agent(self, **agent_defaults(spec, kwargs, skill=spec.skill, allow_empty=spec.allow_empty))
        self.spec = spec

    def work_folder(self, context: Any) -> Path:
        return Path(self.work_dir) if self.work_dir else job_run_dir(self.spec, context)

    def run_agent(self, context: Any) -> dict[str, Any]:
        from agentjobs.operators.delivered import write_result

        try:
            pushed = super().run_agent(context)
        except EmptyResult as exc:
            # An empty day is often a source that could not be read (a dead feed, a moved repo):
            # the one line of the failure, its alert and the command's output say which.
            notes = _source_notes(self.work_folder(context))
            if not notes:
                raise
            raise EmptyResult(f"{exc}; what the sources noted: {'; '.join(notes)}") from exc
        # Kept beside digest.md, so a rerun after delivery can stand on it without the model.
        write_result(self.work_folder(context), pushed["result"])
        return pushed

    def prepare(self, context: Any, skill: Skill, work_dir: Path) -> RunPlan:
        from agentjobs.agent.plan import RunPlan  # run time: a DAG parse plans no run
        from agentjobs.operators.delivered import delivered_result

        # Run-time only: the snapshot models (and the digest's prompts and renderer, in
        # digest_plan) cost ~5 ms of every DAG parse (bench/dag_parse.py).
        from agentjobs.sources.snapshot import Snapshot

        spec = self.spec
        period = run_period(spec, context)
        snapshot = Snapshot.load(work_dir)
        mode = spec.mode or skill.mode
        data = {"snapshot": snapshot, "period": period}
        delivered = delivered_result(spec, period.key, work_dir, context["params"], self.log)
        if delivered is not None:
            data["delivered"] = True
            return RunPlan(
                prompt="",
                mode=mode,
                answer=delivered,
                answer_reason=f"digest.md of {period.key} was delivered already and is kept as sent",
                data=data,
            )
        return digest_plan(spec, skill, work_dir, period, snapshot=snapshot)

    def finish(self, result: dict[str, Any], plan: RunPlan, work_dir: Path, context: Any) -> dict[str, Any]:
        if plan.mode == "loop" or plan.data.get("delivered"):
            return result
        result, dropped = render_digest(self.spec, result, plan, work_dir, self.log)
        context["ti"].xcom_push(key="dropped", value=dropped)
        return result


def _source_notes(work_dir: Path, limit: int = 5) -> list[str]:
    """The snapshot's notes as "source: problem" (the first `limit`, then how many more)."""
    from agentjobs.sources.snapshot import Snapshot

    try:
        notes = [f"{n.source}: {n.problem}" for n in Snapshot.load(work_dir).notes]
    except (OSError, ValueError):  # no snapshot to read: the failure stands as it is
        return []
    if len(notes) > limit:
        notes = [*notes[:limit], f"{len(notes) - limit} more in the fetch tasks' logs"]
    return notes


def digest_plan(spec: JobSpec, skill: Skill, work_dir: Path, period: Any, *, snapshot: Any = None) -> RunPlan:
    """What the digest's model is asked for `period` over the snapshot in `work_dir` (the summarize
    task's plan, and a replay evaluation's: cli/rerun.py)."""
    from agentjobs.agent.plan import RunPlan  # run time: a DAG parse plans no run
    from agentjobs.jobs.digest import judgement_schema, loop_prompt, structured_prompt
    from agentjobs.sources.snapshot import Snapshot

    snapshot = snapshot if snapshot is not None else Snapshot.load(work_dir)
    mode = spec.mode or skill.mode
    data = {"snapshot": snapshot, "period": period}
    if mode == "loop":
        # A stale digest from an earlier try must not pass for this run's output.
        (work_dir / DIGEST_FILE).unlink(missing_ok=True)
        return RunPlan(
            prompt=loop_prompt(period, spec.commits_cap, spec.highlights_max), mode=mode, data=data
        )
    schema = judgement_schema(snapshot, spec.highlights_max, spec.sections)
    if schema is None:
        return RunPlan(prompt="", mode=mode, answer={"highlights": [], "action_items": []}, data=data)
    return RunPlan(
        prompt=structured_prompt(snapshot, period, spec.highlights_max, spec.sections),
        mode=mode,
        result_schema=schema,
        data=data,
    )


def render_digest(
    spec: JobSpec, result: dict[str, Any], plan: RunPlan, work_dir: Path, log: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """digest.md rendered from a structured answer into `work_dir`, and what was dropped from it
    (also logged and added to the transcript, beside the model's answer, so a reader sees what
    it wrote and why that text is not in the digest)."""
    from agentjobs.agent.transcript import Transcript
    from agentjobs.atomic_file import write_atomically
    from agentjobs.jobs.digest import render  # at run time, as in prepare

    rendered = render(
        plan.data["snapshot"],
        result,
        title=spec.title,
        period=plan.data["period"],
        commits_cap=spec.commits_cap,
        sections=spec.sections,
    )
    if rendered.dropped:
        with Transcript(work_dir / "transcript.jsonl") as transcript:
            for drop in rendered.dropped:
                log.warning("Dropped from the digest: %s: %r", drop.reason(), drop.text)
                transcript.record("dropped", reason=drop.reason(), **drop.as_json())
    write_atomically(work_dir / DIGEST_FILE, rendered.markdown)
    return {"path": DIGEST_FILE, "items": rendered.items}, [drop.as_json() for drop in rendered.dropped]

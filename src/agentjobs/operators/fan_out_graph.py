"""The per-team tasks every fan-out kind gets: fetch (who is due, and their snapshots) [→ batch]
→ team[i]: summarize → validate [→ apply [→ review]] [→ publish] → deliver.

With `mode: batch`, a batch task between the fetch and the teams sends every due team's request
as one Batch API file and waits for it deferred (operators/team_batch.py).

The per-team tasks are one mapped task group (dynamic task mapping over the fetch task's
list), so each team's chain runs, retries and fails on its own: one team's bad data does
not hold back another team's delivery. A run that serves nobody ends at the fetch, every later
task skipped (operators/team_fetch.py). The optional steps are the kind's declared capabilities
(jobs/kinds/capabilities.py).

With the spec's `fan_out.chunk_size` above 1 (or `fan_out.chunks`) the group is mapped over chunks
of teams instead, each task doing its chunk's teams, apply and publish included (`build_chunked`,
operators/team_chunk.py, operators/team_chunk_steps.py); a person's review stays per team.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from agentjobs.jobs.kinds.capabilities import Applies, Documents, Reviewed
from agentjobs.jobs.kinds.registry import declares, fan_out_kind
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.graph import FETCH_AND_DELIVER_S


def review_timeout(spec: JobSpec) -> timedelta | None:
    """How long a fan-out's per-team review waits for a person; None when the kind has none."""
    kind = fan_out_kind(spec.kind)
    return kind.review_timeout(spec.kind_settings()) if declares(kind, Reviewed) else None


class FanOutGraph:
    def params(self, spec: JobSpec) -> dict[str, Any]:
        from agentjobs.operators.params import param

        return {
            "teams": param(
                [],
                "Serve only these team ids (of those due at the run's time); empty: all due.",
                type="array",
                items={"type": "string"},
            )
        }

    def dagrun_timeout(self, spec: JobSpec) -> timedelta:
        """One agent task per team: each with its retries and their (doubling) delays, for
        `max_teams_per_run` teams one after another (a one-slot LLM pool runs them so; more slots
        only finish sooner), plus a person's review when the kind asks for one, plus ten minutes.
        It is fixed when the DAG is parsed, so it is sized from the spec, not from the teams a run
        turns out to serve."""
        budget = spec.caps.timeout_s or 900
        per_team = budget * (spec.retries + 1) + spec.retry_delay_s * (2**spec.retries - 1)
        review = review_timeout(spec) or timedelta(0)
        if spec.mode == "batch":  # the Batch API answers within its window, then the teams run
            from agentjobs.operators.team_batch import BATCH_WAIT_LIMIT

            review += BATCH_WAIT_LIMIT
        return timedelta(seconds=per_team * spec.max_teams_per_run + FETCH_AND_DELIVER_S) + review

    def build(self, spec: JobSpec, skills_dir: Path | None) -> None:
        from airflow.sdk import chain, task_group

        from agentjobs.operators.team_agent import TeamAgentOperator
        from agentjobs.operators.team_apply import TeamApplyOperator
        from agentjobs.operators.team_deliver import TeamDeliverOperator
        from agentjobs.operators.team_fetch import TeamFetchOperator
        from agentjobs.operators.team_validate import TeamValidateOperator

        if spec.fan_out.chunked:
            build_chunked(spec, skills_dir)
            return
        kind = fan_out_kind(spec.kind)
        writes = declares(kind, Applies)
        # A kind with a document (a PDF) stores it once and delivers the message that links it.
        publishes = declares(kind, Documents)
        fetch = TeamFetchOperator(task_id="fetch", spec=spec)

        @task_group(group_id="team")
        def team(team_run: Any) -> None:
            summarize = TeamAgentOperator(
                task_id="summarize",
                spec=spec,
                team_run=team_run,
                skills_dir=str(skills_dir) if skills_dir else None,
                **({"pool": spec.pool} if spec.pool else {}),
            )
            validate = TeamValidateOperator(task_id="validate", spec=spec, team_run=team_run)
            deliver = TeamDeliverOperator(
                task_id="deliver",
                spec=spec,
                team_run=team_run,
                **({"validate_task_id": "team.publish"} if publishes else {}),
            )
            steps: list[Any] = [summarize, validate]
            if writes:  # the kind's writes to the business database: checked first, reported after
                apply = TeamApplyOperator(task_id="apply", spec=spec, team_run=team_run)
                steps.append(apply)
                review = review_task(spec, team_run)
                if review is not None:
                    apply >> review  # beside deliver: the summary does not wait for a person
            if publishes:
                from agentjobs.operators.team_publish import TeamPublishOperator

                steps.append(TeamPublishOperator(task_id="publish", spec=spec, team_run=team_run))
            chain(*steps, deliver)

        batch_first(spec, skills_dir, fetch, team.expand(team_run=fetch.output))


def check_batch_skill(spec: JobSpec, skills_dir: Path | None) -> None:
    """`mode: batch` with a loop-mode skill fails the DAG file, naming the fix, when the skills
    folder is known at parse time (else the batch task refuses it before sending anything)."""
    if skills_dir is None:
        return
    from agentjobs.agent.skills import load_skill
    from agentjobs.operators.team_batch import refusal

    skill = load_skill(spec.skill, skills_dir)
    if skill.mode != "structured":
        raise ValueError(refusal(spec, skill.mode))


def build_chunked(spec: JobSpec, skills_dir: Path | None) -> None:
    """fetch [→ batch] → a mapped `team` group over chunks of teams: summarize → validate
    [→ apply] [→ publish] → deliver, each task doing its chunk's teams (operators/team_chunk.py,
    operators/team_chunk_steps.py). With `mode: batch` the batch task sends every team of every
    chunk in one file, and each team of a chunk takes its answer from its folder as a team's own
    task does. A spec whose kind has a person's review on takes no chunks (jobs/spec.py)."""
    from airflow.sdk import chain, task_group

    from agentjobs.operators.team_chunk import ChunkAgentOperator, ChunkDeliverOperator, ChunkValidateOperator
    from agentjobs.operators.team_fetch import TeamFetchOperator

    if review_timeout(spec) is not None:  # the spec refuses it; a spec built another way too
        raise ValueError(f"job {spec.dag_id!r}: a per-team review does not run in chunks")
    kind = fan_out_kind(spec.kind)
    fetch = TeamFetchOperator(task_id="fetch", spec=spec)

    @task_group(group_id="team")
    def team(team_runs: Any) -> None:
        summarize = ChunkAgentOperator(
            task_id="summarize",
            spec=spec,
            team_runs=team_runs,
            concurrency=spec.fan_out.concurrency,
            skills_dir=str(skills_dir) if skills_dir else None,
            **({"pool": spec.pool} if spec.pool else {}),
        )
        validate = ChunkValidateOperator(task_id="validate", spec=spec, team_runs=team_runs)
        steps: list[Any] = [summarize, validate]
        # Each step reads what `source` handed on, for the teams the step before it passed.
        source = previous = "team.validate"
        if declares(kind, Applies):
            from agentjobs.operators.team_chunk_steps import ChunkApplyOperator

            steps.append(ChunkApplyOperator(task_id="apply", spec=spec, team_runs=team_runs))
            previous = "team.apply"
        if declares(kind, Documents):
            from agentjobs.operators.team_chunk_steps import ChunkPublishOperator

            publish = ChunkPublishOperator(
                task_id="publish", spec=spec, team_runs=team_runs, previous_task_id=previous
            )
            steps.append(publish)
            source = previous = "team.publish"
        deliver = ChunkDeliverOperator(
            task_id="deliver",
            spec=spec,
            team_runs=team_runs,
            validate_task_id=source,
            previous_task_id=previous,
        )
        chain(*steps, deliver)

    batch_first(spec, skills_dir, fetch, team.expand(team_runs=fetch.output))


def batch_first(spec: JobSpec, skills_dir: Path | None, fetch: Any, teams: Any) -> None:
    """With `mode: batch`, a batch task between fetch and the mapped team group: every due team's
    request (of every chunk) in one Batch API file, waited on deferred. Otherwise nothing."""
    if spec.mode != "batch":
        return
    from agentjobs.operators.team_batch import TeamBatchOperator

    check_batch_skill(spec, skills_dir)
    batch = TeamBatchOperator(
        task_id="batch",
        spec=spec,
        team_runs=fetch.output,
        skills_dir=str(skills_dir) if skills_dir else None,
    )
    fetch >> batch >> teams


def review_task(spec: JobSpec, team_run: Any) -> Any:
    """A person's review of what the kind would not decide alone, when its spec asks for one
    (reconciliation's `review.enabled`); None otherwise."""
    timeout = review_timeout(spec)
    if timeout is None:
        return None
    from agentjobs.operators.team_review import TeamReviewOperator

    return TeamReviewOperator(task_id="review", spec=spec, team_run=team_run, timeout=timeout)


GRAPH = FanOutGraph()

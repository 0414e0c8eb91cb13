"""TeamBatchOperator: a fan-out run's teams asked through OpenAI's Batch API (`mode: batch`).

Between the fetch and the per-team tasks: it builds each due team's structured request (the
very request the summarize task would send online, agent/batch_request.py), sends them all as
one batch, and waits for it in the triggerer (BatchTrigger), holding no worker slot. Then each
team's line of the result goes to its folder (jobs/team_batch.py) and the team's summarize
task takes it as its answer, counted on its caps at the batch price; a team the batch did not
answer (a failed line, an expired or failed batch, a reply that breaks the contract) is asked
online by its summarize task, within its caps.

Nothing is paid twice: the batch's id is in each team's folder as soon as it exists, so a retry
or a clear waits on that batch (or reads the answers it left) instead of sending another, and a
team whose period is done (delivered, applied) is kept as it is and not sent at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.base_init import init_base
from agentjobs.operators.job_task import JobTaskOperator
from agentjobs.operators.team_task import TeamContext, team_context

if TYPE_CHECKING:
    from agentjobs.agent.batch_client import BatchApi, BatchStatus, BatchUnavailable
    from agentjobs.agent.plan import RunPlan
    from agentjobs.hooks.llm import LLMHook

COLLECT_METHOD = "collect"
# OpenAI ends a batch within its 24 h window (expired at worst); past this the wait itself fails.
BATCH_WAIT_LIMIT = timedelta(hours=26)


class TeamBatchOperator(JobTaskOperator):
    template_fields: Sequence[str] = ("team_runs",)
    ui_color = "#fdf3e1"

    def __init__(
        self,
        *,
        spec: JobSpec,
        team_runs: Any,
        skills_dir: str | None = None,
        poll_interval_s: float | None = None,  # None: the LLM connection's batch_poll_s
        **kwargs: Any,
    ) -> None:
        init_base(self, **kwargs)
        self.spec = spec
        self.team_runs = team_runs  # the fetch task's list, rendered from its XCom
        self.skills_dir = skills_dir
        self.poll_interval_s = poll_interval_s

    def teams(self) -> list[TeamContext]:
        # Chunked (fan_out), the fetch task's list is of chunks: every team of each, in order.
        runs = [run for item in self.team_runs or [] for run in (item if isinstance(item, list) else [item])]
        return [team_context(self.spec, run) for run in runs]

    def run_folders(self, context: Any) -> list[Path]:
        return [team.work_dir for team in self.teams()]

    def run(self, context: Any) -> dict[str, Any]:
        from agentjobs.agent.batch_client import BatchApi
        from agentjobs.hooks.llm import LLMHook

        hook = LLMHook(self.spec.llm_conn_id)
        api = BatchApi(hook.conn)  # one client for the requests and the batch, closed here
        try:
            teams = self.teams()
            waiting, fallback = self.submit(context, teams, hook, api)
            if not waiting:  # every team done, answered before, or sent online
                return with_fallback({"batches": [], "answered": [], "online": []}, fallback)
            # One look before deferring: a batch a retry or a clear finds finished needs no triggerer.
            statuses = [api.status(batch_id) for batch_id in waiting]
            if all(status.final for status in statuses):
                return with_fallback(self.collect_statuses(teams, statuses, api), fallback)
        finally:
            hook.conn.close()
        from airflow.sdk.exceptions import TaskDeferred

        from agentjobs.operators.batch_trigger import BatchTrigger

        self.log.info("Waiting in the triggerer for batch(es) %s", ", ".join(waiting))
        raise TaskDeferred(
            trigger=BatchTrigger(waiting, self.spec.llm_conn_id, self.poll_interval_s),
            method_name=COLLECT_METHOD,
            kwargs={"fallback": fallback} if fallback else None,
            timeout=BATCH_WAIT_LIMIT,
        )

    def collect(
        self, context: Any, event: Any = None, fallback: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Back from the triggerer: each team's line of the finished batches into its folder."""
        from agentjobs.agent.batch_client import BatchApi, BatchStatus
        from agentjobs.agent.errors import ModelRequestError
        from agentjobs.agent.scrub import scrubbed_errors
        from agentjobs.hooks.llm import LLMHook
        from agentjobs.operators.run_files import task_files

        with scrubbed_errors(), task_files(lambda: self.run_folders(context), context):
            if not isinstance(event, dict) or "statuses" not in event:
                raise ModelRequestError(f"waiting on the batch failed: {event}")
            statuses = [BatchStatus.from_dict(s) for s in event["statuses"]]
            api = BatchApi(LLMHook(self.spec.llm_conn_id).conn)
            try:
                return with_fallback(self.collect_statuses(self.teams(), statuses, api), fallback)
            finally:
                api.client.close()

    def submit(
        self, context: Any, teams: list[TeamContext], hook: LLMHook, api: BatchApi
    ) -> tuple[list[str], dict[str, Any] | None]:
        """The batches to wait on: those already carrying a team's request, and a new one for
        the teams that have none (or whose request changed since: a refetch). With the fallback
        (see `fall_back`) when the endpoint refused the new batch for good."""
        from agentjobs.agent.batch_client import BatchUnavailable
        from agentjobs.agent.batch_request import jsonl
        from agentjobs.jobs.team_batch import (
            ANSWER_FILE,
            Submission,
            read_answer,
            read_submission,
            write_submission,
        )

        waiting: list[str] = []
        lines: list[dict[str, Any]] = []
        new: dict[str, TeamContext] = {}
        requests = TeamRequests(self.spec, hook, self.skills_dir, context, self.log)
        for team in teams:
            line = requests.line(team)
            if line is None:
                continue
            kept = read_submission(team.work_dir)
            if kept is not None and kept.request_sha256 == request_sha256(line):
                answer = read_answer(team.work_dir)
                if answer is None or answer.batch_id != kept.batch_id:
                    waiting.append(kept.batch_id)
                continue
            (team.work_dir / ANSWER_FILE).unlink(missing_ok=True)  # an answer to another request
            lines.append(line)
            new[line["custom_id"]] = team
        if not lines:
            return list(dict.fromkeys(waiting)), None
        try:
            submitted = api.submit(
                jsonl(lines), metadata={"dag_id": self.spec.dag_id, "run_id": context["run_id"]}
            )
        except BatchUnavailable as refused:
            return list(dict.fromkeys(waiting)), self.fall_back(refused, list(new.values()))
        for line in lines:
            sub = Submission(
                submitted.batch_id, submitted.input_file_id, line["custom_id"], request_sha256(line)
            )
            write_submission(new[line["custom_id"]].work_dir, sub)
        self.log.info(
            "Sent %d team(s) as batch %s: %s",
            len(lines),
            submitted.batch_id,
            ", ".join(t.team_id for t in new.values()),
        )
        waiting.append(submitted.batch_id)
        return list(dict.fromkeys(waiting)), None

    def fall_back(self, refused: BatchUnavailable, teams: list[TeamContext]) -> dict[str, Any]:
        """The endpoint will not take a batch (no Batch API, a permanent 4xx): these teams are
        asked online by their summarize tasks, within their caps; said once, loud, here."""
        from agentjobs.agent.scrub import scrub
        from agentjobs.jobs.team_batch import NOT_SENT, TeamAnswer, write_answer

        note = scrub(
            f"{refused}: no batch was sent; the run fell back to online calls for {len(teams)} "
            "team(s), within their caps, at the online price"
        )
        self.log.warning("Batch API unavailable: %s", note)
        for team in teams:
            write_answer(team.work_dir, TeamAnswer("", NOT_SENT, "not_sent", error=note))
        return {"note": note, "online": [team.team_id for team in teams]}

    def collect_statuses(
        self, teams: list[TeamContext], statuses: list[BatchStatus], api: BatchApi
    ) -> dict[str, Any]:
        from agentjobs.agent.batch_results import parse_results
        from agentjobs.jobs.team_batch import TeamAnswer, read_answer, read_submission, write_answer

        answered: list[str] = []
        online: list[str] = []
        for status in statuses:
            members = {}
            for team in teams:
                sub = read_submission(team.work_dir)
                if sub is not None and sub.batch_id == status.batch_id and read_answer(team.work_dir) is None:
                    members[sub.custom_id] = team
            if not members:
                continue
            if status.errors:
                self.log.warning("batch %s %s: %s", status.batch_id, status.status, "; ".join(status.errors))
            results = parse_results(
                members, api.download(status.output_file_id), api.download(status.error_file_id)
            )
            if results.ignored_lines:
                self.log.warning(
                    "batch %s: %d line(s) of its files ignored", status.batch_id, results.ignored_lines
                )
            for key, team in members.items():
                if key in results.answered:
                    answer = TeamAnswer(
                        status.batch_id, status.status, "answered", completion=results.answered[key]
                    )
                    answered.append(team.team_id)
                else:
                    why = results.failed.get(key) or f"the batch ended {status.status} without this request"
                    outcome = "failed" if key in results.failed else "missing"
                    answer = TeamAnswer(status.batch_id, status.status, outcome, error=why)  # type: ignore[arg-type]
                    online.append(team.team_id)
                    self.log.warning(
                        "%s: not answered by batch %s (%s): it will be asked online",
                        team.team_id,
                        status.batch_id,
                        why,
                    )
                write_answer(team.work_dir, answer)
        self.log.info("Batch answers for %d team(s); %d to ask online", len(answered), len(online))
        return {"batches": [s.as_dict() for s in statuses], "answered": answered, "online": online}


class TeamRequests:
    """Builds the teams' batch lines as their summarize tasks would build their online calls."""

    def __init__(self, spec: JobSpec, hook: LLMHook, skills_dir: str | None, context: Any, log: Any) -> None:
        from agentjobs.agent.budget import Prices
        from agentjobs.agent.errors import PermanentAgentError
        from agentjobs.agent.skills import default_skills_dir, load_skill

        self.spec, self.context, self.log = spec, context, log
        self.skill = load_skill(spec.skill, Path(skills_dir) if skills_dir else default_skills_dir())
        if self.skill.mode != "structured":
            raise PermanentAgentError(refusal(spec, self.skill.mode))
        self.client = hook.get_model_client(spec.model)  # on the hook's client: the caller closes it
        self.secrets = hook.settings.secrets
        self.prices = hook.settings.prices_for(self.client.model) or Prices()
        try:
            self.caps = spec.caps.overridden(context["params"].get("caps"))
        except ValueError as exc:
            raise PermanentAgentError(str(exc)) from None

    def line(self, team: TeamContext) -> dict[str, Any] | None:
        """The team's request; None for a team kept as done, or one whose rows broke their
        contract (its summarize task fails on its own, saying why)."""
        from agentjobs.agent.batch_request import batch_key, request_line
        from agentjobs.agent.budget import BudgetMeter
        from agentjobs.jobs.inputs import RowContractError
        from agentjobs.operators.team_plan import kept_plan, team_plan

        try:
            snapshot = team.snapshot()
        except (RowContractError, FileNotFoundError) as exc:
            self.log.warning("%s: not sent (%s)", team.team_id, exc)
            return None
        params = self.context["params"]
        if kept_plan(self.spec, team, snapshot, team.work_dir, params, self.log, "structured") is not None:
            return None
        plan: RunPlan = team_plan(self.spec, team, snapshot, "structured")
        bound = plan.bind(self.skill, team.work_dir, secrets=self.secrets)
        return request_line(batch_key(team.team_id), bound, self.client, BudgetMeter(self.caps, self.prices))


def with_fallback(summary: dict[str, Any], fallback: dict[str, Any] | None) -> dict[str, Any]:
    """The batch task's XCom, naming the teams sent online because no batch could be sent."""
    if not fallback:
        return summary
    return {**summary, "online": [*fallback["online"], *summary["online"]], "fallback": fallback["note"]}


def refusal(spec: JobSpec, skill_mode: str) -> str:
    return (
        f"job {spec.dag_id!r} has mode: batch, but skill {spec.skill!r} runs in {skill_mode} mode; the "
        "Batch API takes one request per team and answers it once, so only a structured skill can "
        "use it: set `mode: structured` in the skill or drop `mode: batch` from the job"
    )


def request_sha256(line: dict[str, Any]) -> str:
    """What makes a team's request the same request (its body: prompt, schema, caps' max_tokens)."""
    return hashlib.sha256(json.dumps(line["body"], sort_keys=True).encode("utf-8")).hexdigest()


def with_batch_answer(plan: RunPlan, work_dir: Path, log: Any) -> RunPlan:
    """The summarize task's plan with the team's batch answer, when the batch gave one."""
    import dataclasses

    from agentjobs.jobs.team_batch import read_answer

    answer = read_answer(work_dir)
    if answer is None:
        log.warning("No batch answer in %s: asking online", work_dir)
        return plan
    if answer.outcome == "not_sent":
        log.info("No batch was sent (%s): asking online", answer.error)
        return plan
    if answer.outcome != "answered" or answer.completion is None:
        log.info("Batch %s did not answer this team (%s): asking online", answer.batch_id, answer.error)
        return plan
    log.info("Taking the answer of batch %s (at the batch price)", answer.batch_id)
    return dataclasses.replace(plan, batch_answer=answer.completion)

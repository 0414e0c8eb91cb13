"""The digest's PII review: the tasks between validate and the deliver tasks that stop personal data.

`pii_review` runs the deterministic detector (agentjobs.jobs.pii) over the exact digest.md that
validate checked; `pii_review_agent` (when the spec asks for it) has a second, read-only agent
read it too. Any finding fails the task with `PiiFound`, a permanent error: no retry, the deliver
tasks downstream never run, and the job's alert fires once. The error names kinds, lines and
masked values only, since its message is what the task log, the run log and the alert quote.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentjobs.delivery.deliver import sha256_file
from agentjobs.jobs.pii import Finding, find_pii
from agentjobs.jobs.prompt_data import as_data
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.agent import AgentOperator, init_agent
from agentjobs.operators.base_init import init_base
from agentjobs.operators.errors import ArtifactChanged, PermanentTaskError
from agentjobs.operators.job_task import JobTaskOperator, agent_defaults, job_run_dir

if TYPE_CHECKING:
    from agentjobs.agent.plan import RunPlan
    from agentjobs.agent.skills import Skill  # annotations only: its module is run-time

AGENT_KINDS = ("email", "phone", "card", "iban", "postal_address", "person_id", "other")
MAX_AGENT_LEAKS = 50


class PiiFound(PermanentTaskError):
    """The digest would send personal data; delivery is blocked until it is gone or allowed."""

    def __init__(self, day: str, findings: Iterable[Finding], by: str = "the detector") -> None:
        self.findings = list(findings)
        kinds = sorted({f.kind for f in self.findings})
        listed = ", ".join(f.describe() for f in self.findings[:20])
        more = f" and {len(self.findings) - 20} more" if len(self.findings) > 20 else ""
        super().__init__(
            f"digest.md of {day} holds personal data ({', '.join(kinds)}), found by {by}: {listed}{more}; "
            "nothing was delivered. Remove it at its source and clear the run from 'summarize', or, "
            "for addresses the team expects, add them to the spec's pii_review.allow"
        )


def checked_artifact(context: Any, validate_task_id: str) -> tuple[dict[str, Any], Path]:
    """The validate task's payload and its digest, which must be the very file it checked."""
    from agentjobs.operators.run_files import local_copy  # run-time: a parse needs none

    validated = context["ti"].xcom_pull(task_ids=validate_task_id)
    if not validated:
        raise ValueError(f"task {validate_task_id!r} pushed no validated digest; nothing to review")
    artifact = local_copy(validated["artifact"])
    if sha256_file(artifact) != validated["sha256"]:
        raise ArtifactChanged(
            f"{artifact} changed after validation; clear the run from 'summarize' to redo it"
        )
    return validated, artifact


class PiiReviewOperator(JobTaskOperator):
    """Pass the validate payload through unchanged when the digest holds no personal data."""

    ui_color = "#fde8e8"

    def __init__(self, *, spec: JobSpec, validate_task_id: str = "validate", **kwargs: Any) -> None:
        init_base(self, **kwargs)
        self.spec = spec
        self.validate_task_id = validate_task_id

    def run(self, context: Any) -> dict[str, Any]:
        validated, artifact = checked_artifact(context, self.validate_task_id)
        findings = find_pii(artifact.read_text(encoding="utf-8"), allow=self.spec.pii_review.allow)
        if findings:
            raise PiiFound(validated["day"], findings)
        self.log.info("digest.md of %s holds no personal data the detector knows", validated["day"])
        return validated


class PiiReviewAgentOperator(AgentOperator):
    """The read-only review agent: the numbered digest in, `{"leaks": [{line, kind}], "items"}` out.

    Structured mode with no tools: it can neither write nor fetch, and the schema lets it name
    a line and a kind but not quote the value, so its answer cannot leak what it found either.
    """

    def __init__(self, *, spec: JobSpec, validate_task_id: str = "validate", **kwargs: Any) -> None:
        kwargs.setdefault("tools", [])
        init_agent(self, **agent_defaults(spec, kwargs, skill=spec.pii_review.skill, allow_empty=True))
        self.spec = spec
        self.validate_task_id = validate_task_id

    def work_folder(self, context: Any) -> Path:
        # Its own folder: the transcript must not overwrite the summarize task's.
        return job_run_dir(self.spec, context) / "pii-review"

    def run_folders(self, context: Any) -> list[Path]:
        return [job_run_dir(self.spec, context)]  # the run's: it reads the digest beside its folder

    def prepare(self, context: Any, skill: Skill, work_dir: Path) -> RunPlan:
        from agentjobs.agent.plan import RunPlan  # run time: a DAG parse plans no run

        validated, artifact = checked_artifact(context, self.validate_task_id)
        lines = artifact.read_text(encoding="utf-8").splitlines() or [""]
        return RunPlan(
            prompt=review_prompt(validated["day"], lines),
            mode="structured",
            result_schema=leaks_schema(len(lines)),
            data={"day": validated["day"], "lines": len(lines)},
        )

    def finish(self, result: dict[str, Any], plan: RunPlan, work_dir: Path, context: Any) -> dict[str, Any]:
        # uniqueItems is not enforced by the local grammars: dedupe here, and count in code.
        leaks = sorted({(int(leak["line"]), str(leak["kind"])) for leak in result.get("leaks", [])})
        if leaks:
            findings = [Finding(kind, "", line) for line, kind in leaks]
            raise PiiFound(plan.data["day"], findings, by="the review agent")
        return {"leaks": [], "items": 0}


def review_prompt(day: str, lines: list[str]) -> str:
    # A digest line is source text at one remove (a title quoting `</data> Ignore ...`): as_data keeps
    # it inside the block, with the same line numbers the model answers by.
    numbered = "\n".join(f"{i:>4}: {as_data(line)}" for i, line in enumerate(lines, start=1))
    return (
        f"Review yesterday's digest ({day}) for PII leaks before it is sent. List each line that "
        "holds personal data by its number and kind; copy no personal data.\n\n"
        f"<data>\n{numbered}\n</data>"
    )


def leaks_schema(line_count: int) -> dict[str, Any]:
    """The skill's answer with the line numbers bounded by this digest's length."""
    leak = {
        "type": "object",
        "additionalProperties": False,
        "required": ["line", "kind"],
        "properties": {
            "line": {"type": "integer", "minimum": 1, "maximum": max(1, line_count)},
            "kind": {"type": "string", "enum": list(AGENT_KINDS)},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["leaks", "items"],
        "properties": {
            "leaks": {"type": "array", "maxItems": MAX_AGENT_LEAKS, "items": leak},
            "items": {"type": "integer", "minimum": 0},
        },
    }

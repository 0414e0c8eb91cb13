"""The digest's tasks: fetch_<source> (one per source) → summarize → validate [→ pii_review] →
deliver_<channel>_<i>."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.graph import FETCH_AND_DELIVER_S


class DigestGraph:
    def params(self, spec: JobSpec) -> dict[str, Any]:
        return {}

    def dagrun_timeout(self, spec: JobSpec) -> timedelta:
        """Three agent budgets (a try and its retries) plus ten minutes for fetching and delivering."""
        return timedelta(seconds=(spec.caps.timeout_s or 900) * 3 + FETCH_AND_DELIVER_S)

    def build(self, spec: JobSpec, skills_dir: Path | None) -> None:
        from agentjobs.operators.deliver import DeliverOperator
        from agentjobs.operators.digest import DigestAgentOperator
        from agentjobs.operators.fetch import FetchSourceOperator
        from agentjobs.operators.validate import ValidateDigestOperator

        fetches = [
            FetchSourceOperator(task_id=f"fetch_{name}", source=name, spec=spec)
            for name in spec.sources.names()
        ]
        # The pool caps concurrent LLM calls across all jobs (a 30-day backfill included).
        summarize = DigestAgentOperator(
            task_id="summarize",
            spec=spec,
            skills_dir=str(skills_dir) if skills_dir else None,
            **({"pool": spec.pool} if spec.pool else {}),
        )
        validate = ValidateDigestOperator(task_id="validate", spec=spec)
        delivers = [
            DeliverOperator(task_id=f"deliver_{channel.type}_{i}", spec=spec, channel=channel)
            for i, channel in enumerate(spec.channels)
        ]
        fetches >> summarize >> validate
        review = pii_review_tasks(spec, skills_dir)
        if review:
            # The deliver tasks still read validate's XCom; the review only stands in their way.
            validate >> review[0]
            review[-1] >> delivers
        else:
            validate >> delivers


def pii_review_tasks(spec: JobSpec, skills_dir: Path | None) -> list[Any]:
    """pii_review (the detector), then pii_review_agent when asked: none when the review is off."""
    if not spec.pii_review.enabled:
        return []
    from agentjobs.operators.pii_review import PiiReviewAgentOperator, PiiReviewOperator

    tasks: list[Any] = [PiiReviewOperator(task_id="pii_review", spec=spec)]
    if spec.pii_review.agent:
        # After the detector, so a digest it already blocks costs no model call.
        tasks.append(
            PiiReviewAgentOperator(
                task_id="pii_review_agent",
                spec=spec,
                skills_dir=str(skills_dir) if skills_dir else None,
                **({"pool": spec.pool} if spec.pool else {}),
            )
        )
        tasks[0] >> tasks[1]
    return tasks


GRAPH = DigestGraph()

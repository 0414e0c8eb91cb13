"""TeamReviewOperator: a person approves or rejects the proposals code would not link alone.

Built on the standard provider's HITLOperator (Airflow 3.3 parks it in `awaiting_input`, with no
trigger; the Required Actions page or the HITL REST API answers it). It runs after `apply`,
beside `deliver`, only when the kind asks for it (reconciliation's `review.enabled`): one option
per proposal of the review band, several may be chosen. Approved ones are linked through the
same ledgered write as the run's own links (reconcile_write.resolve_review), the others closed
as rejected. Unanswered within `review.timeout_minutes`, they stay in the ledger as `review`
(the summary lists them) and the run finishes, so the hourly schedule is never held up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator

from agentjobs.jobs.markdown_text import as_text, one_line
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.team_task import TeamTask, sql_conn_id
from agentjobs.operators.team_validated import pull_validated

# HITLOperator checks its options when built; the real ones are the run's proposals.
_BUILD_OPTION = "(the run's proposals)"


def option(record_id: str, item: dict[str, Any]) -> str:
    return f"{one_line(record_id)} → {one_line(str(item['transaction']))} ({float(item['confidence']):.2f})"


class TeamReviewOperator(TeamTask, HITLOperator):
    template_fields: Sequence[str] = (*HITLOperator.template_fields, "team_run")
    ui_color = "#fde8e8"

    def __init__(
        self,
        *,
        spec: JobSpec,
        team_run: Any,
        timeout: timedelta,
        validate_task_id: str = "team.validate",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            subject=f"{spec.title}: receipts to review",
            options=[_BUILD_OPTION],
            defaults=[],  # unanswered in time: nothing approved, nothing rejected
            multiple=True,
            response_timeout=timeout,
            **kwargs,
        )
        self.spec = spec
        self.conn_id = sql_conn_id(spec)
        self.team_run = team_run
        self.validate_task_id = validate_task_id

    def proposals(self, context: Any) -> dict[str, dict[str, Any]]:
        """The run's review band from validate's RESULT, and the options they become."""
        team = self.team_context()
        team_id, period_key = team.team_id, team.period_key
        validated = pull_validated(context, self.validate_task_id, team_id)
        items = dict(sorted((validated["result"].get("review") or {}).items()))
        self.options = [option(rid, item) for rid, item in items.items()]
        self.subject = f"{self.spec.title}: {len(items)} receipt(s) of {team_id} to review, {period_key}"
        self.body = "\n".join(
            f"- {as_text(option(rid, item))}: {as_text(str(item.get('why', '')))}"
            for rid, item in items.items()
        )
        return items

    def execute(self, context: Any) -> Any:
        items = self.proposals(context)
        if not items:
            self.log.info("Nothing to review")
            return {"approved": [], "rejected": [], "answered": False}
        return super().execute(context)  # parks the task until a person answers

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from agentjobs.jobs.kinds.reconcile_write import resolve_review
        from agentjobs.jobs.writes import SpecWrites
        from agentjobs.sources.sql import connection_engine

        items = self.proposals(context)  # a resumed task is built afresh: the options again
        answer = super().execute_complete(context, event)
        user = answer.get("responded_by_user")
        if answer.get("timedout") or not user:
            self.log.warning("No answer in time: %d proposal(s) stay for review", len(items))
            return {"approved": [], "rejected": [], "answered": False}
        chosen = set(answer.get("chosen_options") or [])
        approved = {
            rid: str(item["transaction"]) for rid, item in items.items() if option(rid, item) in chosen
        }
        rejected = [rid for rid in items if rid not in approved]
        team_id = self.team_context().team_id
        written = resolve_review(
            connection_engine(self.conn_id),
            reviewer=str(user.get("name") or user.get("id")),
            team_id=team_id,
            approved=approved,
            rejected=rejected,
            writes=SpecWrites.of(self.spec.sources.sql),
        )
        self.log.info(
            "%s: %d approved and linked, %d rejected, %d conflict(s), %d decided before",
            team_id,
            len(written.linked),
            len(written.recorded),
            len(written.conflicts),
            len(written.already),
        )
        return {"approved": written.linked, "rejected": written.recorded, "answered": True}

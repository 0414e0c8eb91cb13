"""DeliverOperator: one channel of one job, through the delivery ledger.

One task per channel, so a failing channel does not stop the others and can be retried
alone. Clearing, retrying or backfilling never delivers twice; a run triggered with the
`force_redeliver` Param does, and the ledger records both.
"""

from __future__ import annotations

from typing import Any

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.delivery import deliver, ledger_for
from agentjobs.delivery.channels.base import Message
from agentjobs.delivery.channels.registry import channel_for
from agentjobs.delivery.deliver import sha256_file
from agentjobs.jobs.channels.base import ChannelSpec
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.base_init import init_base
from agentjobs.operators.errors import ArtifactChanged
from agentjobs.operators.job_task import JobTaskOperator


class DeliverOperator(JobTaskOperator):
    ui_color = "#e8eefc"

    def __init__(
        self, *, spec: JobSpec, channel: ChannelSpec, validate_task_id: str = "validate", **kwargs: Any
    ) -> None:
        init_base(self, **kwargs)
        self.spec = spec
        self.channel = channel
        # Found now, when the DAG is built: a type no code sends fails the parse, not a paid run.
        self.sender = channel_for(channel)
        self.validate_task_id = validate_task_id

    def run(self, context: Any) -> dict[str, Any]:
        from agentjobs.operators import metrics
        from agentjobs.operators.run_files import local_copy  # run-time: a parse needs none

        validated = context["ti"].xcom_pull(task_ids=self.validate_task_id)
        if not validated:
            raise ValueError(f"task {self.validate_task_id!r} pushed no validated digest; nothing to deliver")
        artifact = local_copy(validated["artifact"])
        # Deliver exactly what was validated: a file changed since then is a loud failure.
        actual = sha256_file(artifact)
        if actual != validated["sha256"]:
            raise ArtifactChanged(
                f"{artifact} changed after validation; clear the run from 'summarize' to redo it"
            )
        day = validated["day"]
        force = bool(context["params"].get("force_redeliver", False))
        ledger = ledger_for(self.spec.ledger_conn_id, job=self.spec.dag_id)
        channel, job = self.sender, self.spec.dag_id
        target = channel.target(job, day)
        previous = None
        if force and channel.edits_on_redeliver():
            previous = ledger.last_receipt(job=job, logical_date=day, channel=channel.type, target=target)
        message = Message(
            job=job,
            day=day,
            title=f"{self.spec.title} — {day}",
            job_title=self.spec.title,
            markdown=artifact.read_text(encoding="utf-8"),
            artifact=artifact,
            previous=previous,
        )
        outcome = deliver(
            ledger=ledger,
            job=job,
            logical_date=day,
            run_id=context["run_id"],
            channel=channel.type,
            target=target,
            artifact=artifact,
            force=force,
            send=lambda: channel.send(message),
        )
        self.log.info(outcome.message)
        metrics.delivery(job, channel.type, outcome.delivered)
        return {"delivered": outcome.delivered, "attempt": outcome.attempt, "message": outcome.message}

"""DeliverOperator: one channel of one job, through the delivery ledger.

One task per channel, so a failing channel does not stop the others and can be retried
alone. Clearing, retrying or backfilling never delivers twice; a run triggered with the
`force_redeliver` Param does, and the ledger records both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentjobs import delivery as senders  # each sender's module (markdown, Slack blocks) loads when it sends
from agentjobs.delivery import DeliveryLedger, deliver, digest_key
from agentjobs.delivery.deliver import sha256_file
from agentjobs.jobs.spec import Channel, EmailChannel, JobSpec, S3Channel, SlackChannel
from agentjobs.operators import metrics
from agentjobs.operators.errors import ArtifactChanged
from agentjobs.operators.job_task import JobTaskOperator
from agentjobs.sources.snapshot import SOURCES_DIR


def channel_target(channel: Channel, dag_id: str, day: str) -> str:
    """The ledger's `target`: where this channel sends, without any credential."""
    if isinstance(channel, EmailChannel):
        return ",".join(sorted(channel.to))
    if isinstance(channel, SlackChannel):
        return f"{channel.conn_id}:{channel.channel or 'webhook'}"
    return f"s3://{channel.bucket}/{digest_key(channel.prefix, dag_id, day)}"


class DeliverOperator(JobTaskOperator):
    ui_color = "#e8eefc"

    def __init__(
        self, *, spec: JobSpec, channel: Channel, validate_task_id: str = "validate", **kwargs: Any
    ) -> None:
        super().__init__(spec=spec, **kwargs)
        self.channel = channel
        self.validate_task_id = validate_task_id

    def run(self, context: Any) -> dict[str, Any]:
        validated = context["ti"].xcom_pull(task_ids=self.validate_task_id)
        if not validated:
            raise ValueError(f"task {self.validate_task_id!r} pushed no validated digest; nothing to deliver")
        artifact = Path(validated["artifact"])
        # Deliver exactly what was validated: a file changed since then is a loud failure.
        actual = sha256_file(artifact)
        if actual != validated["sha256"]:
            raise ArtifactChanged(
                f"{artifact} changed after validation; clear the run from 'summarize' to redo it"
            )
        day = validated["day"]
        force = bool(context["params"].get("force_redeliver", False))
        ledger = DeliveryLedger.from_conn_id(self.spec.ledger_conn_id)
        target = channel_target(self.channel, self.spec.dag_id, day)
        previous = None
        if force and isinstance(self.channel, SlackChannel) and self.channel.update_on_redeliver:
            previous = ledger.last_receipt(
                job=self.spec.dag_id, logical_date=day, channel="slack", target=target
            )
        outcome = deliver(
            ledger=ledger,
            job=self.spec.dag_id,
            logical_date=day,
            run_id=context["run_id"],
            channel=self.channel.type,
            target=target,
            artifact=artifact,
            force=force,
            send=self._sender(artifact, day, previous),
        )
        self.log.info(outcome.message)
        metrics.delivery(self.spec.dag_id, self.channel.type, outcome.delivered)
        return {"delivered": outcome.delivered, "attempt": outcome.attempt, "message": outcome.message}

    def _sender(
        self, artifact: Path, day: str, previous: dict[str, Any] | None = None
    ) -> Callable[[], dict[str, Any]]:
        channel, spec = self.channel, self.spec
        markdown = artifact.read_text(encoding="utf-8")
        if isinstance(channel, EmailChannel):
            subject = channel.subject.format(title=spec.title, day=day)
            return lambda: senders.send_email(
                smtp_conn_id=channel.conn_id, to=channel.to, subject=subject, markdown=markdown
            )
        if isinstance(channel, SlackChannel):
            title = f"{spec.title} — {day}"
            return lambda: senders.send_slack(
                slack_conn_id=channel.conn_id,
                markdown=markdown,
                channel=channel.channel,
                title=title,
                replace=previous,
            )
        assert isinstance(channel, S3Channel)
        return lambda: senders.send_s3(
            aws_conn_id=channel.conn_id,
            bucket=channel.bucket,
            prefix=channel.prefix,
            dag_id=spec.dag_id,
            logical_date=day,
            artifact=artifact,
            sources_dir=artifact.parent / SOURCES_DIR,
        )

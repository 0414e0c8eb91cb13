"""JobAlertNotifier: one alert for a failed task, through the job's alert channel.

It is a `BaseNotifier`, so it serves as a task's `on_failure_callback`. The text names
the job, the logical date, the task and the reason, and is scrubbed of secrets first:
exception messages can quote model replies, tool output or connection URIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseNotifier

from agentjobs.agent.scrub import scrub

REASON_CHARS = 600


class JobAlertNotifier(BaseNotifier):
    """Send `"<job> <logical date>: task <id> failed: <reason>"` by Slack or email."""

    def __init__(
        self,
        *,
        channel_type: str,
        conn_id: str,
        slack_channel: str | None = None,
        to: Sequence[str] = (),
        job_title: str = "",
    ) -> None:
        super().__init__()
        if channel_type not in ("slack", "email"):
            raise ValueError(f"alert channel type must be 'slack' or 'email', got {channel_type!r}")
        if channel_type == "email" and not to:
            raise ValueError("an email alert needs at least one recipient in `to`")
        self.channel_type = channel_type
        self.conn_id = conn_id
        self.slack_channel = slack_channel
        self.to = list(to)
        self.job_title = job_title

    def message(self, context: Any) -> tuple[str, str]:
        """(subject, body) of the alert, scrubbed."""
        ti = context.get("ti")
        dag_run = context.get("dag_run")
        job = getattr(dag_run, "dag_id", None) or getattr(ti, "dag_id", "?")
        when = context.get("logical_date") or getattr(dag_run, "run_after", None)
        day = when.isoformat() if when is not None else "?"
        task = getattr(ti, "task_id", "?")
        exc = context.get("exception")
        reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc or "unknown")
        reason = scrub(reason)
        if len(reason) > REASON_CHARS:
            reason = reason[: REASON_CHARS - 1] + "…"
        subject = scrub(f"[agentjobs] {job} {day}: {task} failed")
        body = scrub(
            f"{self.job_title or job}: run for {day} failed at task `{task}` "
            f"(try {getattr(ti, 'try_number', '?')}).\nReason: {reason}\n"
            f"Run: {getattr(dag_run, 'run_id', '?')}"
        )
        return subject, body

    def notify(self, context: Any) -> None:
        subject, body = self.message(context)
        if self.channel_type == "email":
            from agentjobs.delivery import send_email

            send_email(smtp_conn_id=self.conn_id, to=self.to, subject=subject, markdown=body)
            return
        from agentjobs.delivery import send_slack

        send_slack(slack_conn_id=self.conn_id, markdown=body, channel=self.slack_channel, title=subject)

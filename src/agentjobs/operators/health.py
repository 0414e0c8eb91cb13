"""JobHealthOperator: check every job's run log and alert on stale or failing jobs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator

from agentjobs.delivery import DeliveryLedger
from agentjobs.jobs.health import JobRunLog, check_job
from agentjobs.jobs.spec import JobSpec
from agentjobs.notifications.alert import JobAlertNotifier


class JobHealthOperator(BaseOperator):
    ui_color = "#fdecea"

    def __init__(self, *, specs: list[JobSpec], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.specs = specs

    def execute(self, context: Any) -> list[dict[str, str]]:
        now = datetime.now(UTC)
        found: list[dict[str, str]] = []
        for spec in self.specs:
            for problem in check_job(spec, JobRunLog.from_conn_id(spec.ledger_conn_id), now):
                self.log.warning("%s: %s", problem.job, problem.message)
                sent = self._alert_once(spec, problem.kind, problem.message, context["run_id"], now)
                found.append(
                    {"job": problem.job, "kind": problem.kind, "message": problem.message, "alerted": sent}
                )
        return found

    def _alert_once(self, spec: JobSpec, kind: str, message: str, run_id: str, now: datetime) -> str:
        """One alert a day per job and problem: the delivery ledger keeps the count."""
        if spec.alert is None:
            return "no alert channel"
        ledger = DeliveryLedger.from_conn_id(spec.ledger_conn_id)
        claim = ledger.claim(
            job=spec.dag_id,
            logical_date=now.date(),
            channel="health",
            target=kind,
            run_id=run_id,
            content_sha256=hashlib.sha256(message.encode()).hexdigest(),
            force=False,
        )
        if claim is None:
            return "already alerted today"
        notifier = JobAlertNotifier(**spec.alert_kwargs())
        try:
            notifier.send(f"[agentjobs] {spec.dag_id}: {kind}", message)
        except Exception as exc:
            ledger.mark_failed(claim, str(exc))
            raise
        ledger.mark_sent(claim, {})
        return "alerted"

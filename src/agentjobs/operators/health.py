"""JobHealthOperator: check every job's run log and alert on stale or failing jobs and broken specs."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.channels.registry import alert_channel_of
from agentjobs.jobs.spec import BrokenSpec, JobSpec, alert_kwargs
from agentjobs.operators.base_init import init_base

# JobAlertNotifier's arguments, and the ledger that counts the alerts sent through them.
AlertTarget = tuple[dict[str, Any], str | None]


class JobHealthOperator(BaseOperator):
    ui_color = "#fdecea"

    def __init__(
        self, *, specs: list[JobSpec], broken: list[BrokenSpec] | None = None, **kwargs: Any
    ) -> None:
        init_base(self, **kwargs)
        self.specs = specs
        self.broken = list(broken or ())

    def execute(self, context: Any) -> list[dict[str, str]]:
        # Run-time only: every parse of the jobs DAG file builds this task, and the checks and
        # the notifier (their dataclasses, the delivery package) cost ~4 ms to import.
        from agentjobs.agent.scrub import scrub
        from agentjobs.hooks.ledger import run_log
        from agentjobs.jobs.health import check_job

        now = datetime.now(UTC)
        found: list[dict[str, str]] = []
        for spec in self.specs:
            targets = [(spec.alert_kwargs(), spec.ledger_conn_id)] if spec.alert is not None else []
            for problem in check_job(spec, run_log(spec.ledger_conn_id), now):
                self.log.warning("%s: %s", problem.job, problem.message)
                sent = self._alert_once(problem.job, problem.kind, problem.message, targets, context, now)
                found.append(
                    {"job": problem.job, "kind": problem.kind, "message": problem.message, "alerted": sent}
                )
        for broken in self.broken:
            message = scrub(
                f"job spec {broken.path.name} is broken, so {broken.job} does not run: {broken.error}"
            )
            self.log.error("%s", message)
            sent = self._alert_once(broken.job, "broken", message, self._broken_targets(broken), context, now)
            found.append({"job": broken.job, "kind": "broken", "message": message, "alerted": sent})
        if self.broken:
            # Red in the UI until fixed; the alerts above went out first (at most once a day each).
            # No retry: only an edit of the spec can fix it.
            names = ", ".join(b.path.name for b in self.broken)
            raise AirflowFailException(
                f"{len(self.broken)} broken job spec(s) left out of the scheduler: {names}"
            )
        return found

    def _broken_targets(self, broken: BrokenSpec) -> list[AlertTarget]:
        """The broken spec's own alert channel when that part of it is valid, else every healthy
        job's channel: a job that cannot even say where its alerts go must still reach someone."""
        if broken.alert is not None:
            return [(alert_kwargs(broken.alert, broken.path.name), broken.ledger_conn_id)]
        targets: dict[str, AlertTarget] = {}
        for spec in self.specs:
            if spec.alert is not None:
                kwargs = alert_kwargs(spec.alert, broken.path.name)
                targets.setdefault(json.dumps(kwargs, sort_keys=True), (kwargs, spec.ledger_conn_id))
        return list(targets.values())

    def _alert_once(
        self, job: str, kind: str, message: str, targets: list[AlertTarget], context: Any, now: datetime
    ) -> str:
        """One alert a day per job, problem and channel: the delivery ledger keeps the count."""
        if not targets:
            return "no alert channel"
        from agentjobs.delivery import ledger_for  # at run time, as in execute
        from agentjobs.notifications.alert import JobAlertNotifier

        outcomes: list[str] = []
        for kwargs, ledger_conn_id in targets:
            ledger = ledger_for(ledger_conn_id)
            where = alert_channel_of(kwargs["channel"]).alert_key()
            claim = ledger.claim(
                job=job,
                logical_date=now.date(),
                channel="health",
                target=kind if len(targets) == 1 else f"{kind} via {where}",
                run_id=context["run_id"],
                content_sha256=hashlib.sha256(message.encode()).hexdigest(),
                force=False,
            )
            if claim is None:
                outcomes.append("already alerted today")
                continue
            try:
                JobAlertNotifier(**kwargs).send(f"[agentjobs] {job}: {kind}", message)
            except Exception as exc:
                ledger.mark_failed(claim, str(exc))
                raise
            ledger.mark_sent(claim, {})
            outcomes.append("alerted")
        return ", ".join(dict.fromkeys(outcomes))

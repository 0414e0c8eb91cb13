"""JobAlertNotifier: one alert through the job's alert channel, for a failed, late or timed-out run.

The channel is any channel type that can alert (email, Slack, webhook): the notifier builds
the text and the channel object (agentjobs.delivery.channels) sends it.

It is a `BaseNotifier` with both `notify` and `async_notify`, so the same class serves the
run's alert task (in the worker, with the run's failed tasks in the context under
`failures`), a DAG's deadline callback (in the triggerer, which imports it from this
installed package by its dotted path) and, through `OnRunTimedOut`, the DAG's own
`on_failure_callback` (in the DAG processor). The text names the job, the logical date and
the reasons, and is scrubbed of secrets first: exception messages can quote model replies,
tool output or connection URIs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from agentjobs.jobs.channels.base import ChannelSpec

REASON_CHARS = 600
FAILURES_LISTED = 30  # a run failing for hundreds of teams still fits one message


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class TaskFailure(NamedTuple):
    """One task instance of a run that failed for good, as the run's alert lists it."""

    task: str  # task_id
    reason: str  # "<Exception>: <message>", scrubbed
    team: str | None = None  # the team of a fan-out's per-team task


def _short(reason: str) -> str:
    from agentjobs.agent.scrub import scrub  # when an alert is sent: a DAG parse needs none

    reason = scrub(reason)
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"


def _clean(text: str) -> str:
    """Our secret shapes, then Airflow's own masker: every connection password and sensitive
    extra this process has read (an SMTP password has no shape to recognise)."""
    from agentjobs.agent.scrub import scrub

    text = scrub(text)
    try:
        # Where Airflow 3.3 itself says to import it from (the execution_time path is deprecated).
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:
        return text
    return str(redact(text))


def _stored_before_channels(
    channel_type: str | None, conn_id: str | None, slack_channel: str | None, to: Sequence[str]
) -> dict[str, Any]:
    """The alert channel from the arguments deadline callbacks were stored with before channels
    were objects (`channel_type`, `conn_id`, `slack_channel`, `to`): a run queued then still pages."""
    if channel_type is None:
        raise ValueError("JobAlertNotifier needs `channel` (the spec's alert channel as a mapping)")
    channel: dict[str, Any] = {"type": channel_type}
    if conn_id is not None:
        channel["conn_id"] = conn_id
    if slack_channel:
        channel["channel"] = slack_channel
    if to or channel_type == "email":
        channel["to"] = list(to)
    return channel


def _field(obj: Any, name: str) -> Any:
    """Deadline callbacks get plain dicts; task callbacks get objects."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


class JobAlertNotifier(BaseNotifier):
    """Send `"<job> <logical date>: <what went wrong>"` through the job's alert channel."""

    def __init__(
        self,
        *,
        channel: Mapping[str, Any] | ChannelSpec | None = None,
        channel_type: str | None = None,
        conn_id: str | None = None,
        slack_channel: str | None = None,
        to: Sequence[str] = (),
        job_title: str = "",
        kind: str = "failure",
        late_after: str = "",
        timed_out_after: str = "",
        timezone: str | None = None,
        period_days: int = 1,
        context: Any = None,
    ) -> None:
        super().__init__(context)
        from agentjobs.delivery.channels.registry import channel_for
        from agentjobs.jobs.channels.registry import alert_channel_of

        if channel is None:
            channel = _stored_before_channels(channel_type, conn_id, slack_channel, to)
        if kind not in ("failure", "deadline", "timeout"):
            raise ValueError(f"alert kind must be 'failure', 'deadline' or 'timeout', got {kind!r}")
        # The spec's `alert:` as plain data (a deadline callback's kwargs are stored as JSON) or
        # its model, made the channel object that sends it; a type that cannot alert is refused here.
        self.channel = alert_channel_of(channel)
        self.sender = channel_for(self.channel, alerting=True)
        self.job_title = job_title
        self.kind = kind
        self.late_after = late_after
        self.timed_out_after = timed_out_after
        self.timezone = timezone
        self.period_days = period_days

    def message(self, context: Any) -> tuple[str, str]:
        """(subject, body) of the alert, scrubbed."""
        ti = context.get("ti")
        dag_run = context.get("dag_run")
        job = _field(dag_run, "dag_id") or _field(ti, "dag_id") or _field(context.get("dag"), "dag_id") or "?"
        when = context.get("logical_date") or _field(dag_run, "logical_date") or _field(dag_run, "run_after")
        day = when.isoformat() if hasattr(when, "isoformat") else str(when or "?")
        # Task callbacks get a DagRun (run_id); deadline callbacks a dict keyed dag_run_id.
        run_id = _field(dag_run, "run_id") or _field(dag_run, "dag_run_id") or context.get("run_id") or "?"
        title = self.job_title or job
        covers = self._covers(when)
        if self.kind == "deadline":
            subject = f"[agentjobs] {job} {day}: late"
            body = (
                f"{title} ({job}): the run for {day}{covers} has not finished {self.late_after}.\n"
                f"Run: {run_id}"
            )
            return _clean(subject), _clean(body)
        failures = context.get("failures")
        if self.kind == "failure" and failures:
            subject, body = self._run_failed(failures, context.get("teams_served"), title, day, covers)
            return _clean(f"[agentjobs] {job} {day}: {subject}"), _clean(f"{body}\nRun: {run_id}")
        task = _field(ti, "task_id") or "?"
        if self.kind == "timeout":
            subject = f"[agentjobs] {job} {day}: timed out"
            body = (
                f"{title}: the run for {day}{covers} was stopped by its dagrun_timeout "
                f"({self.timed_out_after}) while `{task}` was running; Airflow marked its "
                f"unfinished tasks skipped and the run failed.\nRun: {run_id}"
            )
            return _clean(subject), _clean(body)
        exc = context.get("exception")
        reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc or "unknown")
        reason = _short(reason)
        subject = f"[agentjobs] {job} {day}: {task} failed"
        body = (
            f"{title}: run for {day}{covers} failed at task `{task}` "
            f"(try {_field(ti, 'try_number') or '?'}).\n"
            f"Reason: {reason}\nRun: {run_id}"
        )
        return _clean(subject), _clean(body)

    @staticmethod
    def _run_failed(
        failures: Sequence[TaskFailure], teams_served: int | None, title: str, day: str, covers: str
    ) -> tuple[str, str]:
        """(subject without the job and day, body without the run id) of a run's one failure alert."""
        if len(failures) == 1 and failures[0].team is None:
            (only,) = failures
            body = f"{title}: run for {day}{covers} failed at task `{only.task}`."
            return f"{only.task} failed", f"{body}\nReason: {_short(only.reason)}"
        # A chunk task's failure names each of its failed teams, joined (operators/run_alert.py).
        teams = sorted({team for f in failures if f.team is not None for team in f.team.split(", ")})
        if all(f.team is not None for f in failures):
            of = f" of {teams_served}" if teams_served else ""
            subject = f"{len(teams)}{of} teams failed" if len(teams) > 1 else f"team {teams[0]} failed"
            head = f"{title}: run for {day}{covers} failed for {len(teams)}{of} teams: {', '.join(teams)}."
        else:
            subject = f"{len(failures)} tasks failed"
            head = f"{title}: run for {day}{covers} failed at {len(failures)} tasks."
        lines = [
            f"- {f'team {f.team}: ' if f.team is not None else ''}`{f.task}`: {_short(f.reason)}"
            for f in failures[:FAILURES_LISTED]
        ]
        if len(failures) > FAILURES_LISTED:
            more = len(failures) - FAILURES_LISTED
            lines.append(f"- … and {more} more (the run's Grid view lists them all)")
        return subject, "\n".join([head, *lines])

    def _covers(self, when: Any) -> str:
        """Which days the run digests, as its reader thinks of them (the run of the 25th: the 24th)."""
        if self.timezone is None:
            return ""
        if isinstance(when, str):
            try:
                when = datetime.fromisoformat(when)
            except ValueError:
                return ""
        if not isinstance(when, datetime):
            return ""
        from agentjobs.jobs.period import period_for

        period = period_for(when, self.timezone, self.period_days)
        first = period.start.date()
        return f", covering {period.day}" if first == period.day else f", covering {first} to {period.day}"

    def send(self, subject: str, body: str) -> None:
        self.sender.alert(subject, body)

    def already_paged(self, context: Any) -> bool:
        """A deadline passed by a run that has failed meanwhile: its failure (a task's, or the
        dagrun_timeout's) has paged already. Airflow keeps the deadlines of failed runs (it
        prunes them only on success), so without this a failed run would also page "late"."""
        return self.kind == "deadline" and _field(context.get("dag_run"), "state") == "failed"

    def notify(self, context: Any) -> None:
        if self.already_paged(context):
            self.log.info("The run failed before its deadline and was paged then; no 'late' alert")
            return
        self.send(*self.message(context))

    async def async_notify(self, context: Any) -> None:
        if self.already_paged(context):
            self.log.info("The run failed before its deadline and was paged then; no 'late' alert")
            return
        # The senders use the providers' synchronous hooks; keep the triggerer's loop free.
        await asyncio.to_thread(self.send, *self.message(context))


class OnRunTimedOut:
    """A DAG's `on_failure_callback` that runs `callbacks` only for a run stopped by its
    `dagrun_timeout`.

    The scheduler then marks the unfinished tasks *skipped*, not failed (the run's alert task
    included), so nobody would hear of it; it asks the DAG processor to run the DAG's failure
    callbacks with `reason` "timed_out". A run failed by a task has already alerted from its
    alert task, so every other reason is ignored here (one page per incident).
    """

    REASON = "timed_out"

    def __init__(self, callbacks: Sequence[Any]) -> None:
        self.callbacks = list(callbacks)

    def __call__(self, context: Any) -> None:
        if context.get("reason") != self.REASON:
            return
        for callback in self.callbacks:
            callback(context)

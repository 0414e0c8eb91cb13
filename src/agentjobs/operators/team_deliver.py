"""TeamDeliverOperator: one team's artifact to the team's channel, list and members, via the ledger.

Targets come from the business database (the team's `slack_channel` and `email_list`, the
rows of `team_targets` when the spec maps it, and each member's email for the one-line
preview). Every target is its own ledger row keyed by
(`<dag_id>/<team>`, period, channel, target): a retry, clear or backfill sends only what was
not sent, and `force_redeliver` sends again. One failing target does not stop the others;
the task fails after trying them all, so its retry resends only the failed ones.

A kind with `member_messages` (overdue_reminders) delivers instead one email per member with
that member's own part of the validated artifact, written to `members/<member id>.md` in the
team's folder so the ledger hashes what was sent; its row is keyed by the member's own local
date (`member_day`) and address, so a member is mailed once a day whatever reruns.

A member preview's ledger row hashes the team's artifact the line is cut from, not the line, so
a later run of the same period keeps that artifact as delivered (operators/delivered.py)
instead of asking the model for another, also for a team whose only targets are previews.
A kind whose previews go out on each member's clock (capabilities.MembersOnOwnClock, e.g.
weekly_insights) sends at each run only what is due then: the channel and list when the team
is (`due`), the previews of `members_due`, titled with the member's own `member_stamp`; the
team's channel gets the insights the members' lines were taken from.

A team of a kind that writes nothing, with no target at this run (no channel, list or member
address, none due, or no connection to send with), is done with its validated artifact:
`done.json` beside it says so, and a clear of the run keeps it instead of asking the model for
another nobody would get (operators/delivered.py; a kind that writes has apply's done.json).
"""

# Annotations evaluated at once, not postponed: typing.NamedTuple would compile each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.delivery import deliver, ledger_for
from agentjobs.delivery.channels.base import Channel, Message
from agentjobs.delivery.channels.registry import channel_for
from agentjobs.jobs.addresses import is_plain_address
from agentjobs.jobs.channels.base import ChannelSpec
from agentjobs.jobs.channels.email import EmailChannel
from agentjobs.jobs.channels.slack import SLACK_CHANNEL, SlackChannel
from agentjobs.jobs.kinds.base import Member, PerMemberKind, TeamSnapshot
from agentjobs.jobs.kinds.capabilities import Applies, MembersOnOwnClock, Records
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.base_init import init_base
from agentjobs.operators.team_task import TeamContext, TeamTaskOperator, sql_conn_id

MEMBERS_DIR = "members"


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class Target(NamedTuple):
    channel: str  # "slack" | "email" | "preview"
    target: str  # the ledger's target: where it goes, never a credential
    artifact: Path
    send: Callable[[], dict[str, Any]]
    logical_date: str | None = None  # the ledger's; None: the team's period key
    to: str = ""  # the channel name or addresses, as the database row gave them (checked per target)


class TeamDeliverOperator(TeamTaskOperator):
    ui_color = "#e8eefc"

    def __init__(
        self, *, spec: JobSpec, team_run: Any, validate_task_id: str = "team.validate", **kwargs: Any
    ) -> None:
        init_base(self, **kwargs)
        self.spec, self.team_run = spec, team_run
        self.validate_task_id = validate_task_id

    def run(self, context: Any) -> dict[str, Any]:
        from agentjobs.operators.team_validated import pull_unchanged_artifact

        team = self.team_context()
        validated, artifact = pull_unchanged_artifact(context, self.validate_task_id, team.team_id)
        return self.deliver_team(team, validated, artifact, context)

    def deliver_team(
        self, team: TeamContext, validated: dict[str, Any], artifact: Path, context: Any
    ) -> dict[str, Any]:
        """Send `team`'s validated artifact to each of its targets (a chunk's deliver calls it
        once per team); fails after trying them all when any failed."""
        from agentjobs.operators import metrics
        from agentjobs.operators.delivered import NOWHERE, write_done
        from agentjobs.operators.run_files import local_copy  # run-time: a parse needs none

        kind, team_id, period_key = team.kind, team.team_id, team.period_key
        snapshot = team.snapshot()
        per_member = isinstance(kind, PerMemberKind)
        if per_member:
            targets = self.member_targets(kind, team.settings, snapshot, artifact)
        else:
            # A run with no instant at all (a bare context) sends every target, as before clocks.
            when = context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None)
            own_clock = isinstance(kind, MembersOnOwnClock) and when is not None
            clock = (kind, team.settings, when) if own_clock else None
            targets = self.targets(snapshot, artifact, local_copy(validated["preview"]), period_key, clock)
        delivery = self.spec.team_delivery
        if per_member and not targets:
            self.log.info("%s: no member due now has anything to be reminded of", team_id)
        elif not targets and (delivery.slack_conn_id or delivery.smtp_conn_id):
            self.log.warning("%s has no slack_channel, email_list or members to deliver to", team_id)
        if not targets and not isinstance(kind, Applies) and artifact.name == kind.artifact_file:
            # (A published report's message is not the artifact: the report's ledger row vouches.)
            write_done(team.work_dir, validated, NOWHERE)
        ledger = ledger_for(self.spec.ledger_conn_id, job=self.spec.dag_id)
        force = bool(context["params"].get("force_redeliver", False))
        outcomes, failures = [], []
        for target in targets:
            try:
                if target.channel == "slack":
                    check_slack_channel(target.to)
                else:
                    check_addresses(target.target)
                job, day = team.ledger_key()
                outcome = deliver(
                    ledger=ledger,
                    job=team.ledger_job() if target.logical_date else job,
                    logical_date=target.logical_date or day,
                    run_id=context["run_id"],
                    channel=target.channel,
                    target=target.target,
                    artifact=target.artifact,
                    force=force,
                    send=target.send,
                )
            except Exception as exc:  # the other targets still get theirs; this one is retried
                shown = printable(target.target)
                self.log.error("%s → %s failed: %s: %s", target.channel, shown, type(exc).__name__, exc)
                failures.append(f"{target.channel} {shown}: {type(exc).__name__}")
                continue
            self.log.info(outcome.message)
            metrics.delivery(self.spec.dag_id, target.channel, outcome.delivered)
            outcomes.append(
                {"channel": target.channel, "target": target.target, "delivered": outcome.delivered}
            )
        if failures:
            raise RuntimeError(f"{len(failures)} of {len(targets)} deliveries failed: {'; '.join(failures)}")
        done = {"team": team_id, "period": period_key, "deliveries": outcomes}
        # What was sent, in the database too, now that it was (a team with nowhere to go sent nothing).
        if isinstance(kind, Records) and targets:
            done["recorded"] = self.record(kind, team, snapshot, validated)
        return done

    def record(self, kind: Records, team: Any, snapshot: TeamSnapshot, validated: dict[str, Any]) -> int:
        """Write the team's week of records once (a rerun finds them and writes none); a failure
        fails this task, whose retry sends nothing again (the ledger) and writes them then."""
        from datetime import UTC, datetime

        from agentjobs.jobs.insight_records import write_records
        from agentjobs.jobs.writes import SpecWrites
        from agentjobs.sources.sql import connection_engine

        written = write_records(
            connection_engine(sql_conn_id(self.spec)),
            SpecWrites.of(self.spec.sources.sql),
            job=self.spec.dag_id,
            team_id=team.team_id,
            week=team.period_key,
            insights=kind.insights(snapshot, validated["result"], team.settings),
            sha256=validated["sha256"],
            sent_at=datetime.now(UTC).replace(tzinfo=None),  # the tables hold naive UTC
        )
        self.log.info(
            "%s %s: %s",
            team.team_id,
            team.period_key,
            f"{written} insight record(s) written" if written else "insight records were written before",
        )
        return written

    def targets(
        self,
        snapshot: TeamSnapshot,
        artifact: Path,
        preview: Path,
        period_key: str,
        clock: tuple[MembersOnOwnClock, Any, datetime] | None = None,
    ) -> list[Target]:
        """The team's slack channels, its email lists (the row's and team_targets'), and one
        preview per member (by email); with `clock` (kind, settings, the run's instant) only
        those of them due at that instant."""
        from agentjobs.jobs.markdown_text import one_line

        team, delivery = snapshot.team, self.spec.team_delivery
        # The name is a database row: one line, or its CR/LF would fail every mail of the team.
        title = f"{self.spec.title} — {one_line(team.name)}, {period_key}"
        found: list[Target] = []
        slack_conn, smtp_conn = delivery.slack_conn_id, delivery.smtp_conn_id
        team_due = clock is None or clock[0].due(team, clock[2], clock[1])
        # The team's targets come from its database row, so the channels are built here, not in a spec.
        for channel in team.slack_channels if slack_conn and team_due else []:
            # model_construct: the name is checked per target (check_slack_channel), so a bad row
            # fails only its own delivery.
            slack = SlackChannel.model_construct(type="slack", conn_id=slack_conn, channel=channel)
            found.append(_target(slack, self._message(title, artifact, period_key), to=channel))
        for addresses in team.email_lists if smtp_conn and team_due else []:
            mail = _mail(smtp_conn, addresses)
            found.append(_target(mail, self._message(title, artifact, period_key)))
        if smtp_conn and delivery.member_preview:
            line = self._message(title, preview, period_key)
            due = None if clock is None else clock[0].members_due(team, snapshot.members, clock[2], clock[1])
            for member in self._reachable(snapshot, only=None if due is None else {m.id for m in due}):
                assert member.email is not None
                mail = _mail(smtp_conn, [member.email])
                message = line
                if clock is not None:
                    stamp = clock[0].member_stamp(snapshot, member)
                    message = self._message(
                        f"{self.spec.title} — {one_line(team.name)}, {stamp}", preview, period_key
                    )
                # The row hashes the artifact the line is cut from: a team whose only targets are
                # previews is then delivered as that artifact, and a clear keeps it (delivered.py).
                found.append(_target(mail, message, name="preview")._replace(artifact=artifact))
        return found

    def _reachable(self, snapshot: TeamSnapshot, only: set[str] | None = None) -> list[Member]:
        """The members (of `only`, by id) to mail, by email; one without an address is skipped
        with a note in the run log, never a failure of the team's other deliveries."""
        wanted = [m for m in snapshot.members if only is None or m.id in only]
        for member in wanted:
            if not member.email:
                self.log.warning(
                    "%s: member %s has no email address in the users table: no mail sent to them",
                    snapshot.team.id,
                    member.id,
                )
        return sorted((m for m in wanted if m.email), key=lambda m: str(m.email))

    def _message(self, title: str, path: Path, day: str, text: str | None = None) -> Message:
        markdown = path.read_text(encoding="utf-8") if text is None else text
        return Message(self.spec.dag_id, day, title, title, markdown, path)

    def member_targets(
        self, kind: PerMemberKind, settings: Any, snapshot: TeamSnapshot, artifact: Path
    ) -> list[Target]:
        """One email per member the kind has a message for, each to the member's own address."""
        from agentjobs.atomic_file import write_atomically
        from agentjobs.jobs.markdown_text import one_line
        from agentjobs.jobs.team_run import check_team_id

        smtp_conn = self.spec.team_delivery.smtp_conn_id
        messages = kind.member_messages(snapshot, artifact.read_text(encoding="utf-8"), settings)
        if not smtp_conn:
            return []
        folder = artifact.parent / MEMBERS_DIR
        found: list[Target] = []
        for member in self._reachable(snapshot, only=set(messages)):
            assert member.email is not None
            day = kind.member_day(snapshot, member)
            path = folder / f"{check_team_id(member.id)}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, messages[member.id])
            title = f"{self.spec.title} — {one_line(member.name)}, {day}"
            message = self._message(title, path, day, messages[member.id])
            mail = _mail(smtp_conn, [member.email])
            found.append(_target(mail, message, name="reminder", logical_date=day))
        return found


def printable(target: str) -> str:
    """A target as the log and the failure show it: as is, or quoted when a database row put a
    line break or control character in it (it must not forge a log line)."""
    return target if target.isprintable() else repr(target)


def check_slack_channel(channel: str) -> None:
    """A channel name comes from a database row: one name or id (`#team-berlin`, `C0123ABC`),
    nothing that could be read as markup, a mention or a second line in a log or a message."""
    if not SLACK_CHANNEL.fullmatch(channel):
        raise ValueError(
            f"{channel!r} in the business database is not a slack channel name or id; fix the row"
        )


def check_addresses(addresses: str) -> None:
    """Addresses come from database rows: a CR/LF or display name there must not reach a mail header."""
    for address in addresses.split(","):
        if not is_plain_address(address):
            raise ValueError(
                f"{address!r} in the business database is not a plain email address; fix the row"
            )


def _mail(conn_id: str, to: list[str]) -> EmailChannel:
    """An email channel to addresses from database rows, checked per target by `check_addresses`
    (not here), so one bad row fails only its own delivery; the subject is the title as given."""
    return EmailChannel.model_construct(type="email", conn_id=conn_id, to=to, subject="{title}")


def _target(
    spec: ChannelSpec,
    message: Message,
    *,
    name: str | None = None,
    logical_date: str | None = None,
    to: str = "",
) -> Target:
    """One ledger row's delivery: `message` through `spec`'s channel, keyed under `name` (the
    channel's type unless a preview or reminder) and the channel's own target key."""
    sender: Channel[ChannelSpec] = channel_for(spec)
    return Target(
        name or sender.type,
        sender.target(message.job, message.day),
        message.artifact,
        lambda: sender.send(message),
        logical_date=logical_date,
        to=to,
    )

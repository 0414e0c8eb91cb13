"""What a kind may do beyond base.Kind / base.FanOutKind, each declared as a checkable protocol.

A kind has a capability when it has the protocol's members; the task graph and the CLI ask
with `isinstance(kind, Applies)` (or `registry.declares(kind, Applies)`, the same answer with the
members read once, where a DAG parse asks), never by probing attribute names, so every optional
step a kind can switch on is listed here, with its signature. (A fan-out kind serving members instead
of teams is base.PerMemberKind.) No Airflow here: the graph that uses a capability does.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Protocol, runtime_checkable

from agentjobs.jobs.kinds.base import Member, PerMemberKind, Team, TeamSnapshot


@runtime_checkable
class OwnTaskGraph(Protocol):
    """A kind that builds its own tasks instead of the per-team fan-out (the digest does).

    `task_graph` is "module:attribute" of an operators.graph.TaskGraph: a string, so the kind's
    module (domain code) imports no Airflow, and the graph's module loads only to build a DAG.
    """

    task_graph: ClassVar[str]


@runtime_checkable
class ChecksSpec(Protocol):
    """A kind with rules of its own on the rest of the spec (e.g. the digest refuses `sql`)."""

    def check_spec(self, spec: Any) -> None:
        """Raise jobs.spec.KindMismatch (or ValueError) naming the field of `spec` that does not fit."""
        ...


@runtime_checkable
class Applies(Protocol):
    """A fan-out kind that writes its validated result to the business database (the apply task).

    A kind that declares write targets (`writes`, jobs/writes.py) also takes `writes=` (a
    jobs/writes.SpecWrites) when the spec maps any of them."""

    def apply(
        self, snapshot: TeamSnapshot, result: dict[str, Any], settings: Any, engine: Any
    ) -> dict[str, list[str]]: ...


@runtime_checkable
class Records(Protocol):
    """A kind that keeps what it sent in the business database too (weekly_insights): the deliver
    task writes these records once every target of the team has its delivery
    (jobs/insight_records.py)."""

    def insights(self, snapshot: TeamSnapshot, result: dict[str, Any], settings: Any) -> list[dict[str, Any]]:
        """The validated result as records, each {text, metric, numbers}, in the order sent."""
        ...


@runtime_checkable
class Reviewed(Protocol):
    """An applying kind whose writes a person may review (the review task, beside deliver)."""

    # The setting of the kind's section that turns the review on (e.g. "review.enabled"): a spec
    # asking for chunks while the review is on is refused naming it (reviews run one per team).
    review_setting: ClassVar[str]

    def review_timeout(self, settings: Any) -> timedelta | None:
        """How long the review waits for a person; None: no review this spec."""
        ...


@runtime_checkable
class Documents(Protocol):
    """A kind that publishes a document (a PDF) once and delivers the message linking it."""

    def document_name(self, snapshot: TeamSnapshot) -> str: ...

    def document(self, snapshot: TeamSnapshot, markdown: str, settings: Any) -> bytes: ...


@runtime_checkable
class Claims(Protocol):
    """A kind that batches events: the fetch claims the read rows for the run's window through the
    claims ledger, so no two windows of a team share an event (operators/team_claims.py)."""

    def claimable(self, snapshot: TeamSnapshot, settings: Any) -> list[dict[str, Any]]: ...

    def with_claimed(self, snapshot: TeamSnapshot, claimed: list[dict[str, Any]]) -> TeamSnapshot: ...


@runtime_checkable
class ReportsIgnored(Protocol):
    """A claiming kind that says which read rows no window takes (logged as a warning at fetch)."""

    def unknown_categories(self, snapshot: TeamSnapshot, settings: Any) -> dict[str, int]: ...


@runtime_checkable
class PicksServingInstant(Protocol):
    """A kind that picks the instant `agentjobs run` serves a day at, instead of the first due hour."""

    def serving_instant(self, team: Team, day: date, settings: Any) -> datetime | None: ...


@runtime_checkable
class MembersOnOwnClock(Protocol):
    """A team-wide kind whose member e-mails (the previews) go out on each member's own clock.

    The run at `when` sends the team's channel and list when `due` says so, and the preview of
    each member `members_due` names; the fetch serves the team when either has someone. The
    team's period (and so its snapshot, artifact and ledger keys) is the same for every run that
    serves it, so the artifact is made once and each target is sent once a period.
    """

    def members_due(self, team: Team, members: list[Member], when: datetime, settings: Any) -> list[Member]:
        """The members whose preview the run at `when` sends (none may be due while the team is)."""
        ...

    def member_stamp(self, snapshot: TeamSnapshot, member: Member) -> str:
        """The period as the member's e-mail title names it, in the member's own time zone."""
        ...


def member_zone(member: Member, team: Team) -> str:
    """The member's own time zone; the team's where the users table has none (NULL)."""
    return member.timezone or team.timezone


PerMember = PerMemberKind  # listed here with the others; defined beside FanOutKind, which it extends

__all__ = [
    "Applies",
    "ChecksSpec",
    "Claims",
    "Documents",
    "MembersOnOwnClock",
    "OwnTaskGraph",
    "PerMember",
    "PicksServingInstant",
    "Records",
    "ReportsIgnored",
    "Reviewed",
]  # the capability protocols only (member_zone is a helper the MembersOnOwnClock kinds share)

"""What a job kind over the business database says, as plain data and functions (no Airflow).

A fan-out kind runs once per team: the factory's fetch task asks the kind which teams are
due at the run's logical date, runs the kind's queries for each through the `sql` source,
and writes one `TeamSnapshot` per team; the summarize, validate and deliver tasks are mapped
over those teams. The kind supplies everything between: the tools, prompt and schema the
model gets, the artifact rendered in code from snapshot + answer, and the check of the
artifact against the snapshot.
"""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from agentjobs.jobs.period import Period
from agentjobs.sources.teams import Member, Query, Team  # kinds import them from here too
from agentjobs.sources.teams import utc_naive as utc_naive  # a query window's bounds, for kinds

if TYPE_CHECKING:  # the tools' module (and its permission engine) loads when a task runs
    from agentjobs.agent.plan import RunPlan as KindPlan
    from agentjobs.agent.tools import Tool

# The models below are built on first use, not at import: a DAG parse imports this module with
# the kinds and never validates a team or a snapshot (bench/dag_parse.py).
_RUN_TIME = ConfigDict(extra="forbid", defer_build=True)


class PeriodRef(BaseModel):
    model_config = ConfigDict(**_RUN_TIME, frozen=True)
    key: str  # the last day covered, YYYY-MM-DD in the team's time zone
    start: datetime  # inclusive, timezone-aware
    end: datetime  # exclusive

    @classmethod
    def of(cls, period: Period) -> "PeriodRef":
        return cls(key=period.key, start=period.start, end=period.end)


class TeamSnapshot(BaseModel):
    """What the sql source found for one team and one period: the only input of the model and checks.

    `tables` maps each query's name to its rows as JSON values: timestamps are ISO 8601 strings
    in UTC, amounts integer minor units, so a clear or a backfill reads exactly the same data.
    """

    model_config = _RUN_TIME
    kind: str
    team: Team
    members: list[Member] = []
    period: PeriodRef
    tables: dict[str, list[dict[str, Any]]]


# What the summarize task asks the model for one team (or, with `answer`, asks nothing): the
# runtime's one plan type (agent/plan.RunPlan); a kind sets the prompt, schema, tools, URLs,
# answer and `collect`. Loaded when first asked for: a DAG parse plans no run.
def __getattr__(name: str) -> Any:
    if name == "KindPlan":
        from agentjobs.agent.plan import RunPlan

        return RunPlan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class Rendered(NamedTuple):
    """The artifact (markdown) and the RESULT the skill's contract checks."""

    markdown: str
    result: dict[str, Any]


class CheckFailed(ValueError):
    """The artifact says something the snapshot does not: the run fails with one alert, no retry."""


def check_heading(markdown: str, artifact_file: str, suffix: str) -> str:
    """The artifact's first line, which must be `# <title><suffix>` (a kind's heading ends in
    " — <team>, <period>"); CheckFailed names the heading expected."""
    first = markdown.split("\n", 1)[0]
    if not first.startswith("# ") or not first.endswith(suffix):
        raise CheckFailed(f"{artifact_file} does not start with the heading '# <title>{suffix}'")
    return first


@runtime_checkable
class Kind(Protocol):
    """What every kind declares, the digest too. Implementations are module-level singletons,
    found by name through registry.py (shipped, or an `agentjobs.kinds` entry point); what a kind
    may do beyond this is declared by the protocols of capabilities.py, checked with isinstance."""

    name: ClassVar[str]  # as specs write it in `kind:`; also the name of the spec's section
    # The model of the spec's section named after the kind (`weekly_insights:`), extra keys
    # forbidden; None: the kind has no section of its own (the digest's settings are the spec's).
    settings_model: ClassVar[type[BaseModel] | None]
    default_schedule: ClassVar[str]  # cron used when the spec gives none


@runtime_checkable
class FanOutKind(Kind, Protocol):
    """A kind run once per team of the business database. It gets the per-team task graph
    (operators/fan_out_graph.py) unless it declares its own (capabilities.OwnTaskGraph)."""

    settings_model: ClassVar[type[BaseModel]]  # the spec's per-kind section (extra keys forbidden)
    artifact_file: ClassVar[str]  # e.g. "insights.md", in the team's run folder

    def due(self, team: Team, when: datetime, settings: Any) -> bool:
        """Whether the run at `when` (its logical date, UTC) serves `team`."""
        ...

    def period(self, team: Team, when: datetime, settings: Any) -> Period:
        """The days the run at `when` covers for `team`, in the team's time zone."""
        ...

    def queries(self, team: Team, period: Period, settings: Any) -> dict[str, Query]:
        """The named queries whose rows make the team's snapshot."""
        ...

    def plan(
        self, snapshot: TeamSnapshot, settings: Any, mode: Literal["loop", "structured"]
    ) -> "KindPlan": ...

    def render(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: Any, title: str
    ) -> Rendered: ...

    def check(self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: Any) -> None:
        """Raise CheckFailed naming what in `markdown` the snapshot does not support."""
        ...

    def preview(self, markdown: str) -> str:
        """The one line each team member gets (the artifact's first line of content)."""
        ...


ToolFactory = Callable[[TeamSnapshot], "list[Tool]"]


@runtime_checkable
class PerMemberKind(FanOutKind, Protocol):
    """A fan-out kind that serves members, not teams (e.g. overdue_reminders: each user at their
    own 09:00). Optional: the fetch and deliver tasks use these methods when the kind is one
    (isinstance), and every other kind keeps its team-wide behaviour."""

    def due_members(self, team: Team, members: list[Member], when: datetime, settings: Any) -> list[Member]:
        """The members the run at `when` serves; the team is served when there is one. The
        snapshot's `members` are these."""
        ...

    def member_day(self, snapshot: TeamSnapshot, member: Member) -> str:
        """The ledger's logical date of `member`'s delivery (the member's own local date)."""
        ...

    def member_messages(self, snapshot: TeamSnapshot, markdown: str, settings: Any) -> dict[str, str]:
        """member id -> the markdown that member gets (from the validated artifact); a member
        left out gets nothing. Delivered instead of the team's channel, list and previews."""
        ...

"""What a DAG parse needs of the two reconciliation kinds: their shared spec section
(`MatchSettings`, its `review` band), who is due and which days, the review step's timeout, and
`MatchFace`, the base of each kind's face.

A face hands the model's side (the prompt, tools, renderer and check) to its kind's run-time half,
`<kind>_run.py` (built on reconcile_core.py), imported the first time a task asks for it: the
matching rules, wording and summaries cost every DAG parse milliseconds for nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentjobs.jobs.kinds.overdue_reminders import serves_local_hour
from agentjobs.jobs.period import Period, period_for

if TYPE_CHECKING:  # annotations only: the run-time half loads when a task runs
    from agentjobs.jobs.kinds.base import KindPlan, Rendered, Team, TeamSnapshot

LINK_ABOVE = 0.8  # a link needs a confidence above this (the rule; not a setting)
NONE = "none"


# Built when first validated (defer_build), not at import: these two are validated only inside
# a kind's own settings model, and building each alone too cost every DAG parse their schemas.
class ReviewSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    # On: a review task (Airflow's human-in-the-loop operator) asks a person about the review band.
    enabled: bool = False
    min_confidence: float = Field(0.5, ge=0, le=LINK_ABOVE)  # below: no match
    # Unanswered by then, the proposals stay for review and the run ends: within the hour, so an
    # hourly DAG with max_active_runs=1 is never held up by a person away from their desk.
    timeout_minutes: int = Field(45, ge=1, le=24 * 60)


class MatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # its subclasses too
    local_hour: int = Field(7, ge=0, le=23)  # the team's own hour of the daily run
    lookback_days: int = Field(90, ge=1, le=400)  # records received in this many days up to yesterday
    max_records: int = Field(20, ge=1, le=500)  # records judged per run; the rest wait a day
    review: ReviewSettings = Field(default_factory=ReviewSettings)


# What a face hands on to its run-time half when asked (the kind's words and the model's side,
# reconcile_core.MatchKind); any other missing name is an AttributeError, so a capability check
# (isinstance on a Protocol) never loads the run-time half.
RUN_TIME_NAMES = frozenset(
    {
        "artifact",
        "candidate_line",
        "check_item",
        "example",
        "expected",
        "find_doc",
        "heading",
        "intro",
        "match_doc",
        "record_line",
        "sections",
        "summary_line",
        "wording",
        "work",
    }
)


class MatchFace:
    """The parse-time half of a reconciliation kind. A subclass names `run_module`, whose `MATCH`
    (a reconcile_core.MatchKind) does the model's side; the rest of base.FanOutKind is here."""

    run_module: ClassVar[str]  # "agentjobs.jobs.kinds.<kind>_run"

    @property
    def match(self) -> Any:
        """The run-time half (imported on first use)."""
        return import_module(self.run_module).MATCH

    def __getattr__(self, name: str) -> Any:
        if name in RUN_TIME_NAMES:
            return getattr(self.match, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ who, when

    def due(self, team: Team, when: datetime, settings: Any) -> bool:
        return serves_local_hour(team.timezone, when, settings.local_hour)

    def period(self, team: Team, when: datetime, settings: Any) -> Period:
        """The `lookback_days` local days up to yesterday: the records received in them are judged."""
        return period_for(when, team.timezone, settings.lookback_days)

    # ------------------------------------------------------------------ at run time (<kind>_run.py)

    def plan(self, snapshot: TeamSnapshot, settings: Any, mode: Literal["loop", "structured"]) -> KindPlan:
        return self.match.plan(snapshot, settings, mode)

    def render(self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: Any, title: str) -> Rendered:
        return self.match.render(snapshot, answer, settings, title)

    def check(self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: Any) -> None:
        self.match.check(snapshot, markdown, result, settings)

    def preview(self, markdown: str) -> str:
        lines = [line for line in markdown.splitlines() if line.strip()]
        return lines[1].strip() if len(lines) > 1 else ""

    # ------------------------------------------------------------------ the review step

    review_setting: ClassVar[str] = "review.enabled"  # in the kind's section: what turns the review on

    def review_timeout(self, settings: Any) -> timedelta | None:
        """How long the review step waits for a person; None: no review step (the default)."""
        if not settings.review.enabled:
            return None
        return timedelta(minutes=settings.review.timeout_minutes)

"""The `weekly_insights` spec section and what both halves of the kind read from it.

A DAG parse validates the section (jobs/spec.py), so it loads with the kind (weekly_insights.py);
the run-time half (weekly_insights_run.py: the weeks' arithmetic, the prompts, the renderer and
the check) reads the same model and loads only when a task runs.
"""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, ValidationInfo, model_validator

TABLE = "transactions"  # the one input: the team's transactions of the weeks compared
# Every zone's Sunday 09:00 (UTC-12 .. UTC+14) is an hour of a Saturday or Sunday in UTC, and
# every member's slot (weekly_insights.member_slot) one of a Saturday, Sunday or Monday: the
# Monday 09:00 of a member more than 9 hours east of the team is as late as Monday 11:00 UTC (a
# member at UTC-2 in a team at UTC-12), Tokyo's Monday 00:00 UTC. Hours nobody is due at serve
# no one.
DEFAULT_SCHEDULE = "0 * * * 0,1,6"


def aware(when: datetime) -> datetime:
    """`when` in UTC; a naive moment is taken as UTC."""
    return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)


class Settings(BaseModel):
    """The spec's `weekly_insights` section."""

    model_config = ConfigDict(extra="forbid")
    local_hour: Annotated[StrictInt, Field(ge=0, le=23)] = 9
    bullets_min: Annotated[StrictInt, Field(ge=1, le=10)] = 3
    bullets_max: Annotated[StrictInt, Field(ge=1, le=10)] = 5
    words_max: Annotated[StrictInt, Field(ge=20, le=2000)] = 200
    weeks_back: Annotated[StrictInt, Field(ge=1, le=12)] = 4  # earlier weeks compare_periods can reach
    # Each member's preview at their own local_hour (the users table's timezone; none: the
    # team's) instead of with the team's channel; false: every member with the team.
    member_local_time: bool = True
    # The job's schedule (5 cron fields) and its time zone: the spec passes them as validation
    # context; settings built without a spec have the kind's default.
    _schedule: tuple[str, str] = PrivateAttr(default=(DEFAULT_SCHEDULE, "UTC"))

    @model_validator(mode="after")
    def _bullets_range(self) -> "Settings":
        if self.bullets_min > self.bullets_max:
            raise ValueError(f"bullets_min ({self.bullets_min}) is above bullets_max ({self.bullets_max})")
        return self

    @model_validator(mode="after")
    def _jobs_schedule(self, info: ValidationInfo) -> "Settings":
        context = info.context or {}
        if context.get("schedule"):
            self._schedule = (str(context["schedule"]), str(context.get("timezone") or "UTC"))
        return self

    def runs_at(self, moment: datetime) -> bool:
        """Whether the job's schedule has a run at `moment` (to the minute)."""
        from croniter import croniter  # Airflow's own cron library, as jobs/spec.py reads it

        cron, zone = self._schedule
        local = aware(moment).astimezone(ZoneInfo(zone)).replace(second=0, microsecond=0)
        following = croniter(cron, local - timedelta(minutes=1)).get_next(datetime)
        return bool(following == local)

"""Which teams a job's schedule never serves: a fan-out kind serves a team only at the runs that
fall on the team's own hour (weekly_insights: Sunday 09:00 team time), so a schedule that never
runs then (`0 3 * * *` for a team in Berlin) leaves the team without a single artifact, silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

HORIZON = timedelta(days=35)  # five weeks: every weekly kind's day, whatever the month
MAX_RUNS = 20_000  # a minutely cron: stop counting rather than walk 50,000 instants a team


def never_served(
    kind: Any, settings: Any, teams: Iterable[Any], schedule: str, timezone: str, start: datetime
) -> list[str]:
    """The ids of `teams` that no run of `schedule` (5 cron fields, in `timezone`) in the five
    weeks from `start` serves. Empty when the runs could not all be walked (too many)."""
    from croniter import croniter

    runs: list[datetime] = []
    walk = croniter(schedule, start.astimezone(ZoneInfo(timezone)))
    while len(runs) < MAX_RUNS:
        when = walk.get_next(datetime)
        if when - start > HORIZON:
            break
        runs.append(when)
    else:
        return []
    return [team.id for team in teams if not any(kind.due(team, when, settings) for when in runs)]

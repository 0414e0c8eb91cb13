"""team_tally: a kind from outside agentjobs, declared by this package's entry point
(`agentjobs.kinds`: team_tally = agentjobs_tally:KIND). Each team, at `local_hour` in its own
time zone, gets yesterday's number of transactions (counted in code) and one remark the model
words. It uses only agentjobs' public kind interface: base.FanOutKind and its types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from agentjobs.jobs.kinds.base import (
    CheckFailed,
    KindPlan,
    Query,
    Rendered,
    Team,
    TeamSnapshot,
    check_heading,
    utc_naive,
)
from agentjobs.jobs.markdown_text import as_text, one_line
from agentjobs.jobs.period import Period, period_for

ARTIFACT_FILE = "tally.md"
REMARK_MAX = 120
TRANSACTIONS_SQL = (
    "SELECT id FROM transactions WHERE team_id = :team_id AND occurred_at >= :start AND occurred_at < :end"
)


class TallySettings(BaseModel):
    """The spec's `team_tally:` section."""

    model_config = ConfigDict(extra="forbid")
    local_hour: Annotated[StrictInt, Field(ge=0, le=23)] = 8


class TeamTally:
    name: ClassVar[str] = "team_tally"
    settings_model: ClassVar[type[BaseModel]] = TallySettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "0 * * * *"

    def due(self, team: Team, when: datetime, settings: TallySettings) -> bool:
        return when.astimezone(ZoneInfo(team.timezone)).hour == settings.local_hour

    def period(self, team: Team, when: datetime, settings: TallySettings) -> Period:
        return period_for(when, team.timezone, 1)

    def queries(self, team: Team, period: Period, settings: TallySettings) -> dict[str, Query]:
        params = {"team_id": team.id, "start": utc_naive(period.start), "end": utc_naive(period.end)}
        return {"transactions": Query(TRANSACTIONS_SQL, params)}

    def plan(
        self, snapshot: TeamSnapshot, settings: TallySettings, mode: Literal["loop", "structured"]
    ) -> KindPlan:
        count = len(snapshot.tables["transactions"])
        schema = {
            "type": "object",
            "additionalProperties": False,
            "required": ["items", "remark"],
            "properties": {
                "items": {"type": "integer", "minimum": 0},
                "remark": {"type": "string", "maxLength": REMARK_MAX},
            },
        }
        prompt = f"The team had {count} transactions yesterday. Give `items` and one short remark."
        return KindPlan(prompt=prompt, result_schema=schema)

    def heading(self, snapshot: TeamSnapshot, title: str) -> str:
        return f"# {one_line(title)} — {as_text(snapshot.team.name)}, {snapshot.period.key}"

    def render(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: TallySettings, title: str
    ) -> Rendered:
        count = len(snapshot.tables["transactions"])
        remark = as_text(one_line(str(answer.get("remark", ""))[:REMARK_MAX]))
        lines = [self.heading(snapshot, title), "", f"{count} transaction(s) yesterday.", "", remark, ""]
        return Rendered("\n".join(lines), {"items": count, "remark": remark})

    def check(
        self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: TallySettings
    ) -> None:
        suffix = self.heading(snapshot, "x").split(" — ", 1)[1]
        check_heading(markdown, ARTIFACT_FILE, f" — {suffix}")
        count = len(snapshot.tables["transactions"])
        if markdown.split("\n")[2] != f"{count} transaction(s) yesterday." or result.get("items") != count:
            raise CheckFailed(f"{ARTIFACT_FILE} does not say the {count} transaction(s) of the snapshot")

    def preview(self, markdown: str) -> str:
        return markdown.split("\n")[2]


KIND = TeamTally()

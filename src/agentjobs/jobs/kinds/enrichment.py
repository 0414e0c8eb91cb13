"""The `enrichment` kind: each team's customers not yet enriched get industry, country, employee
count and website from one allowlisted HTTP source, once.

Each day at the team's `local_hour` the fetch reads up to `batch_size` customers whose
`enriched_at` is NULL. Every customer has one lookup URL, `source_url` + its url-quoted name,
which must be below the spec's `allow_urls`; a response larger than `max_response_bytes` or
not `application/json` is refused, never read.

- Loop mode (a capable model): the model calls `http_get` on each lookup URL and
  `update_enrichment(customer_id, fields)`, which accepts only the enrichment columns, only
  customers of the snapshot, once each, with checked values, and stages them.
- Structured mode (the embedded tiny model, no tools): code fetches each record; the model
  only says which key of the records holds each column (an enum of the records' keys), and
  code copies and checks the values.

enrichment.md lists what is staged and what was refused, and why. After the check, the apply
task writes the staged values in one transaction, each row only while `enriched_at` is NULL
(enrichment_write.py), then the summary is delivered through the ledger.
This module is what a DAG parse and the fetch need: the spec section (enrichment_settings.py),
the input, the write target, who is due. The lookups, prompts, tools, renderer and check
(enrichment_run.py) load when a task first asks for them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel

from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.base import Query, Team, TeamSnapshot
from agentjobs.jobs.kinds.enrichment_settings import ARTIFACT_FILE, EnrichmentSettings, lookup_url
from agentjobs.jobs.kinds.enrichment_write import ENRICHMENT
from agentjobs.jobs.kinds.overdue_reminders import hour_period, serves_local_hour
from agentjobs.jobs.period import Period
from agentjobs.jobs.writes import WriteTarget
from agentjobs.lazy_names import forwarded

if TYPE_CHECKING:  # annotations only: the run-time half loads when a task runs
    from agentjobs.jobs.kinds.base import KindPlan, Rendered

CUSTOMERS_SQL = (
    "SELECT id, name FROM customers WHERE team_id = :team_id AND enriched_at IS NULL ORDER BY id LIMIT :limit"
)

INPUTS = (
    Input(
        "customers",
        "the team's customers not enriched yet, at most the batch size",
        (
            Column("id", "text"),
            # NULL where an import lost it: that customer is refused (nothing to look up), not the team.
            Column(
                "name",
                "text",
                nullable=True,
                meaning="the company's name, looked up",
                needed_as_is="its lookup URL is built from it, so the model must see it",
            ),
        ),
        ("team_id", "limit"),
        CUSTOMERS_SQL,
        "src.team_id = :team_id AND src.enriched_at IS NULL",
        "src.id LIMIT :limit",
        ("team_id", "enriched_at"),
    ),
)


# ---------------------------------------------------------------------------------- the kind


class EnrichmentKind:
    """Daily at each team's `local_hour`: its customers not yet enriched, up to `batch_size`."""

    name: ClassVar[str] = "enrichment"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS  # the datasets it reads (jobs/inputs.py)
    writes: ClassVar[tuple[WriteTarget, ...]] = (ENRICHMENT,)  # what it writes (jobs/writes.py)
    settings_model: ClassVar[type[BaseModel]] = EnrichmentSettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "0 * * * *"

    def due(self, team: Team, when: datetime, settings: EnrichmentSettings) -> bool:
        return serves_local_hour(team.timezone, when, settings.local_hour)

    def period(self, team: Team, when: datetime, settings: EnrichmentSettings) -> Period:
        """The hour this run serves, keyed by the team's local date."""
        return hour_period(team.timezone, when)

    def queries(self, team: Team, period: Period, settings: EnrichmentSettings) -> dict[str, Query]:
        return {"customers": Query(CUSTOMERS_SQL, {"team_id": team.id, "limit": settings.batch_size})}

    # ------------------------------------------------------------------ at run time (enrichment_run.py)

    def sources(self, snapshot: TeamSnapshot, settings: EnrichmentSettings) -> dict[str, str]:
        """customer id -> its one lookup URL."""
        from agentjobs.jobs.kinds import enrichment_run

        return enrichment_run.lookup_sources(snapshot, settings)

    def plan(
        self, snapshot: TeamSnapshot, settings: EnrichmentSettings, mode: Literal["loop", "structured"]
    ) -> KindPlan:
        from agentjobs.jobs.kinds import enrichment_run

        return enrichment_run.plan(snapshot, settings, mode)

    def outcome(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: EnrichmentSettings
    ) -> dict[str, Any]:
        from agentjobs.jobs.kinds import enrichment_run

        return enrichment_run.outcome(snapshot, answer, settings)

    def heading(self, snapshot: TeamSnapshot, title: str) -> str:
        from agentjobs.jobs.kinds import enrichment_run

        return enrichment_run.heading(snapshot, title)

    def render(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: EnrichmentSettings, title: str
    ) -> Rendered:
        from agentjobs.jobs.kinds import enrichment_run

        return enrichment_run.render(snapshot, answer, settings, title)

    def check(
        self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: EnrichmentSettings
    ) -> None:
        from agentjobs.jobs.kinds import enrichment_run

        enrichment_run.check(snapshot, markdown, result, settings)

    def preview(self, markdown: str) -> str:
        from agentjobs.jobs.kinds import enrichment_run

        return enrichment_run.preview(markdown)

    # ------------------------------------------------------------------ the write

    def apply(
        self,
        snapshot: TeamSnapshot,
        result: dict[str, Any],
        settings: EnrichmentSettings,
        engine: Any,
        writes: Any = None,
    ) -> dict[str, list[str]]:
        """Write the validated updates (once each: see enrichment_write), where the spec's
        `writes` (jobs/writes.SpecWrites; None: the sample's customers) sends them."""
        from agentjobs.jobs.kinds.enrichment_write import write_updates

        return write_updates(
            engine, snapshot, list(result.get("updates", [])), self.sources(snapshot, settings), writes
        )


KIND = EnrichmentKind()

# Names of the run-time half that callers import from here: they load it then.
__getattr__ = forwarded(
    __name__,
    "agentjobs.jobs.kinds.enrichment_run",
    frozenset({"NO_NAME", "Staging", "UpdateArgs", "customers_of", "describe", "unnamed"}),
)


__all__ = ["ARTIFACT_FILE", "KIND", "EnrichmentKind", "EnrichmentSettings", "lookup_url"]

"""The `reconciliation` kind: each team's unmatched receipts linked to the transactions they pay.

Once a local day per team (at `local_hour`, from one hourly DAG in UTC), for the receipts of
the last `lookback_days` that are unlinked and not judged yet (the `processed_records`
ledger): code finds each receipt's candidates (reconcile_rules: amount within 0.5 %, date
within 5 days, a similar vendor name; top 5 by score), the model picks one per receipt with a
confidence, and code decides again from the rules, never from the model alone:
- linked: the rules hold, the confidence is above 0.8 and the amount is exact with no rival of
  the same amount (reconcile_rules.link_blocker);
- review: the rules hold but the confidence is in [review.min_confidence, 0.8], or a blocker
  stands; a person answers in the review step (off by default) or links by hand;
- no match: anything else, with the rule or the reason.
The decisions are the RESULT (`links`, `review`, `no_match`); validate checks them against the
snapshot again, the apply task writes them with the ledger in one transaction
(reconcile_write, `apply`), and then the summary (reconciliation.md) is delivered as every
kind's artifact.
This module is what a DAG parse and the fetch need: the spec section, the inputs, the write
target, who is due (reconcile_face.py). The rules, prompts, summary and check
(reconciliation_run.py, on reconcile_core.py) load when a task first asks for them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.base import Query, Team, TeamSnapshot, utc_naive
from agentjobs.jobs.kinds.reconcile_face import LINK_ABOVE, NONE, MatchFace, MatchSettings, ReviewSettings
from agentjobs.jobs.kinds.reconcile_links import LINKS
from agentjobs.jobs.period import Period
from agentjobs.jobs.writes import WriteTarget
from agentjobs.lazy_names import forwarded

ARTIFACT_FILE = "reconciliation.md"

RECEIPTS_SQL = (
    "SELECT r.id, r.vendor_id, v.name AS vendor_name, r.received_on, r.amount_cents, r.currency "
    "FROM receipts r LEFT JOIN vendors v ON v.id = r.vendor_id "
    "WHERE r.team_id = :team_id AND r.transaction_id IS NULL "
    "AND r.received_on >= :first AND r.received_on <= :last "
    "AND NOT EXISTS (SELECT 1 FROM processed_records p "
    "WHERE p.record_type = 'receipt' AND p.record_id = r.id) "
    "ORDER BY r.received_on, r.id"
)
# Expense transactions no receipt holds yet, from 6 days before the first receipt day to 6 after
# the last (the date rule is judged in code on the team's local days; a day of margin each side).
TRANSACTIONS_SQL = (
    "SELECT t.id, t.occurred_at, t.category, t.amount_cents, t.currency, t.vendor_id, "
    "v.name AS vendor_name FROM transactions t LEFT JOIN vendors v ON v.id = t.vendor_id "
    "WHERE t.team_id = :team_id AND t.kind = 'expense' AND t.occurred_at >= :start AND t.occurred_at < :end "
    "AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.transaction_id = t.id) "
    "ORDER BY t.occurred_at, t.id"
)

# The candidates are ranked by how similar the vendor names are: tokens would hide that.
_NAME_RULE = "the matching rules compare vendor names by similarity, so the model must see them"
INPUTS = (
    Input(
        "receipts",
        "the team's receipts of the lookback not linked and not yet judged",
        (
            Column("id", "text"),
            Column("vendor_id", "text"),
            Column("vendor_name", "text", nullable=True, needed_as_is=_NAME_RULE),
            Column("received_on", "date"),
            Column("amount_cents", "integer", meaning="the amount in minor units"),
            Column("currency", "text", meaning="ISO 4217 code", check="currency"),
        ),
        ("team_id", "first", "last"),
        RECEIPTS_SQL,
        "src.team_id = :team_id AND src.transaction_id IS NULL "
        "AND src.received_on >= :first AND src.received_on <= :last "
        "AND NOT EXISTS (SELECT 1 FROM processed_records p "
        "WHERE p.record_type = 'receipt' AND p.record_id = src.id)",
        "src.received_on, src.id",
        ("team_id", "transaction_id"),
    ),
    Input(
        "transactions",
        "the team's expenses around the lookback with no receipt linked",
        (
            Column("id", "text"),
            Column("occurred_at", "timestamp", meaning="when it was booked (UTC)"),
            Column("category", "text"),
            Column("amount_cents", "integer", meaning="the amount in minor units, positive"),
            Column("currency", "text", meaning="ISO 4217 code", check="currency"),
            Column("vendor_id", "text", nullable=True),
            Column("vendor_name", "text", nullable=True, needed_as_is=_NAME_RULE),
        ),
        ("team_id", "start", "end"),
        TRANSACTIONS_SQL,
        "src.team_id = :team_id AND src.occurred_at >= :start AND src.occurred_at < :end",
        "src.occurred_at, src.id",
        ("team_id",),
    ),
)


class ReconciliationSettings(MatchSettings):
    pass


class ReconciliationKind(MatchFace):
    """Hourly in UTC; each team once a day at its own `local_hour`."""

    name: ClassVar[str] = "reconciliation"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS  # the datasets it reads (jobs/inputs.py)
    writes: ClassVar[tuple[WriteTarget, ...]] = (LINKS,)  # what it writes (jobs/writes.py)
    settings_model: ClassVar[type[BaseModel]] = ReconciliationSettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "0 * * * *"
    run_module: ClassVar[str] = "agentjobs.jobs.kinds.reconciliation_run"  # the model's side

    # ------------------------------------------------------------------ what it reads

    def queries(self, team: Team, period: Period, settings: ReconciliationSettings) -> dict[str, Query]:
        first = period.start.date()
        return {
            "receipts": Query(RECEIPTS_SQL, {"team_id": team.id, "first": first, "last": period.day}),
            "transactions": Query(
                TRANSACTIONS_SQL,
                {
                    "team_id": team.id,
                    "start": utc_naive(period.start - timedelta(days=6)),
                    "end": utc_naive(period.end + timedelta(days=6)),
                },
            ),
        }

    # ------------------------------------------------------------------ the write (the apply task)

    def apply(
        self,
        snapshot: TeamSnapshot,
        result: dict[str, Any],
        settings: ReconciliationSettings,
        engine: Any,
        writes: Any = None,
    ) -> dict[str, list[str]]:
        """Write the validated decisions with their ledger rows, in one transaction (reconcile_write),
        where the spec's `writes` (jobs/writes.SpecWrites; None: the sample's tables) sends them."""
        from agentjobs.jobs.kinds.reconcile_core import written_of
        from agentjobs.jobs.kinds.reconcile_write import decisions_of

        return written_of(engine, snapshot, decisions_of(result), writes)


KIND = ReconciliationKind()

# Names of the run-time half that callers import from here: they load it then.
__getattr__ = forwarded(
    __name__, "agentjobs.jobs.kinds.reconciliation_run", frozenset({"RULES", "WORDING", "Work"})
)

__all__ = [
    "ARTIFACT_FILE",
    "KIND",
    "LINK_ABOVE",
    "NONE",
    "ReconciliationKind",
    "ReconciliationSettings",
    "ReviewSettings",
]

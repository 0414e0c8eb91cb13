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
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.base import Query, Team, TeamSnapshot, utc_naive
from agentjobs.jobs.kinds.reconcile_core import (
    LINK_ABOVE,
    NONE,
    MatchKind,
    MatchSettings,
    MatchWork,
    ReviewSettings,
    Rules,
    Wording,
    code,
)
from agentjobs.jobs.kinds.reconcile_links import LINKS
from agentjobs.jobs.kinds.reconcile_rules import (
    Candidate,
    candidate,
    find_candidates,
    link_blocker,
    local_day,
    rule_failures,
)
from agentjobs.jobs.markdown_text import as_text
from agentjobs.jobs.numbers import format_amount
from agentjobs.jobs.period import Period
from agentjobs.jobs.prompt_data import as_data
from agentjobs.jobs.writes import WriteTarget

ARTIFACT_FILE = "reconciliation.md"
_EXAMPLE = '{"matches": {"<receipt id>": {"transaction": "<one of its candidate ids>", "confidence": 0.9}}}'

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


RULES = Rules(find_candidates, candidate, rule_failures, link_blocker, lambda c: c.transaction_id)
WORDING = Wording(
    noun="receipt",
    pick="transaction",
    unknown="no unlinked expense transaction of the team",
    unmatched="no unlinked transaction of the team",
    taken="is linked to",
    linked="Linked",
    link="link",
)


class Work(MatchWork):
    """One team's snapshot, indexed: the receipts, their candidates, and the ones this run judges."""

    def __init__(self, snapshot: TeamSnapshot, settings: ReconciliationSettings) -> None:
        super().__init__(
            snapshot, settings, records="receipts", targets="transactions", rules=RULES, wording=WORDING
        )
        self.receipts, self.transactions = self.records, self.targets


class ReconciliationKind(MatchKind):
    """Hourly in UTC; each team once a day at its own `local_hour`."""

    name: ClassVar[str] = "reconciliation"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS  # the datasets it reads (jobs/inputs.py)
    writes: ClassVar[tuple[WriteTarget, ...]] = (LINKS,)  # what it writes (jobs/writes.py)
    settings_model: ClassVar[type[BaseModel]] = ReconciliationSettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "0 * * * *"

    wording = WORDING
    artifact = ARTIFACT_FILE
    example = _EXAMPLE
    find_doc = "The receipt's candidate transactions (top 5, best first), found by the rules in code."
    match_doc = """Propose that the receipt pays the candidate, with your confidence (0..1). Code checks the
        rules again and answers whether it will be linked, sent to review or refused (naming the
        rule); your last proposal per receipt counts. Links are written after the run is checked."""

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

    # ------------------------------------------------------------------ the model

    def work(self, snapshot: TeamSnapshot, settings: ReconciliationSettings) -> Work:
        return Work(snapshot, settings)

    def intro(self, snapshot: TeamSnapshot) -> str:
        return (
            f"Match each receipt of team {as_data(snapshot.team.name)} to the transaction it pays. Its "
            "candidates were found by code (amount within 0.5 %, date within 5 days, a similar vendor "
            "name), best first; choose the one it pays, with a confidence from 0 to 1: above "
            f"{LINK_ABOVE} only when you are sure, 0 when none of them is the receipt's."
        )

    def record_line(self, work: MatchWork, rid: str, currency: str) -> str:
        receipt = work.records[rid]
        amount = format_amount(int(receipt["amount_cents"]), str(receipt.get("currency") or currency))
        return (
            f"{amount} from {as_data(str(receipt.get('vendor_name') or '?'))}, "
            f"received {str(receipt['received_on'])[:10]}"
        )

    def candidate_line(self, found: Candidate, currency: str) -> str:
        return (
            f"{found.transaction_id}: {format_amount(found.amount_cents, currency)}, "
            f"{as_data(found.vendor_name)}, {found.day.isoformat()} (score {found.score:.2f})"
        )

    # ------------------------------------------------------------------ the artifact

    def summary_line(self, work: Work, result: dict[str, Any]) -> str:
        links, review, none = (len(result.get(k) or {}) for k in ("links", "review", "no_match"))
        line = (
            f"{links} receipt{'s' if links != 1 else ''} linked, {review} for review, {none} without a match "
            f"of {len(work.batch)} judged; {work.without} without a candidate transaction yet"
        )
        return line + (f", {work.waiting} left for the next run." if work.waiting else ".")

    def expected(
        self,
        snapshot: TeamSnapshot,
        work: Work,
        result: dict[str, Any],
        settings: ReconciliationSettings,
        title_line: str,
    ) -> str:
        currency = snapshot.team.currency

        def receipt(rid: str) -> str:
            row = work.receipts[rid]
            amount = format_amount(int(row["amount_cents"]), str(row.get("currency") or currency))
            return (
                f"`{code(rid)}` {amount} from {as_text(str(row.get('vendor_name') or '?'))} "
                f"(received {str(row['received_on'])[:10]})"
            )

        def txn(tid: str) -> str:
            row = work.transactions[tid]
            day = local_day(row["occurred_at"], work.tz).isoformat()
            amount = format_amount(int(row["amount_cents"]), str(row.get("currency") or currency))
            return f"`{code(tid)}` {amount}, {as_text(str(row.get('vendor_name') or '?'))}, {day}"

        lines = [title_line, "", self.summary_line(work, result), ""]
        return "\n".join(lines + self.sections(result, settings, receipt, txn))

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

__all__ = [
    "ARTIFACT_FILE",
    "KIND",
    "LINK_ABOVE",
    "NONE",
    "ReconciliationKind",
    "ReconciliationSettings",
    "ReviewSettings",
    "Work",
]

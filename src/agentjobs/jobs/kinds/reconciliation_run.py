"""reconciliation at run time: receipts matched to transactions by reconcile_rules, the prompt's
lines, reconciliation.md written from code's decisions (the kind's face, reconciliation.py, hands
plan, render and check here; a DAG parse never loads this module)."""

from __future__ import annotations

from typing import Any

from agentjobs.jobs.kinds.base import TeamSnapshot
from agentjobs.jobs.kinds.reconcile_core import LINK_ABOVE, MatchKind, MatchWork, Rules, Wording, code
from agentjobs.jobs.kinds.reconcile_rules import (
    Candidate,
    candidate,
    find_candidates,
    link_blocker,
    local_day,
    rule_failures,
)
from agentjobs.jobs.kinds.reconciliation import ARTIFACT_FILE, ReconciliationSettings
from agentjobs.jobs.markdown_text import as_text
from agentjobs.jobs.numbers import format_amount
from agentjobs.jobs.prompt_data import as_data

_EXAMPLE = '{"matches": {"<receipt id>": {"transaction": "<one of its candidate ids>", "confidence": 0.9}}}'

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


class ReceiptsMatch(MatchKind):
    """The model's side of reconciliation: its prompt, tools, summary and check."""

    wording = WORDING
    artifact = ARTIFACT_FILE
    example = _EXAMPLE
    find_doc = "The receipt's candidate transactions (top 5, best first), found by the rules in code."
    match_doc = """Propose that the receipt pays the candidate, with your confidence (0..1). Code checks the
        rules again and answers whether it will be linked, sent to review or refused (naming the
        rule); your last proposal per receipt counts. Links are written after the run is checked."""

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


MATCH = ReceiptsMatch()

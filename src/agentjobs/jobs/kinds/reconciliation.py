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

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentjobs.agent.tools import Tool, tool_from_function
from agentjobs.jobs.inputs import Column, Input
from agentjobs.jobs.kinds.base import (
    CheckFailed,
    KindPlan,
    Query,
    Rendered,
    Team,
    TeamSnapshot,
    check_heading,
)
from agentjobs.jobs.kinds.overdue_reminders import serves_local_hour
from agentjobs.jobs.kinds.reconcile_rules import (
    Candidate,
    candidate,
    find_candidates,
    link_blocker,
    local_day,
    rule_failures,
)
from agentjobs.jobs.kinds.reconcile_write import LINKS
from agentjobs.jobs.markdown_text import as_text, one_line
from agentjobs.jobs.numbers import format_amount
from agentjobs.jobs.period import Period, period_for
from agentjobs.jobs.prompt_data import as_data
from agentjobs.jobs.writes import WriteTarget

ARTIFACT_FILE = "reconciliation.md"
LINK_ABOVE = 0.8  # a link needs a confidence above this (the rule; not a setting)
NONE = "none"
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


class ReviewSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # On: a review task (Airflow's human-in-the-loop operator) asks a person about the review band.
    enabled: bool = False
    min_confidence: float = Field(0.5, ge=0, le=LINK_ABOVE)  # below: no match
    # Unanswered by then, the proposals stay for review and the run ends: within the hour, so an
    # hourly DAG with max_active_runs=1 is never held up by a person away from their desk.
    timeout_minutes: int = Field(45, ge=1, le=24 * 60)


class ReconciliationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    local_hour: int = Field(7, ge=0, le=23)  # the team's own hour of the daily run
    lookback_days: int = Field(90, ge=1, le=400)  # receipts received in this many days up to yesterday
    max_records: int = Field(20, ge=1, le=500)  # receipts judged per run; the rest wait a day
    review: ReviewSettings = Field(default_factory=ReviewSettings)


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _code(text: str) -> str:
    return one_line(text).replace("`", "'")


@dataclass
class Decisions:
    """What code decided for one run, as the RESULT carries it."""

    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # rid -> {transaction, confidence}
    review: dict[str, dict[str, Any]] = field(default_factory=dict)  # rid -> {transaction, confidence, why}
    no_match: dict[str, str] = field(default_factory=dict)  # rid -> why

    def result(self) -> dict[str, Any]:
        return {
            "path": ARTIFACT_FILE,
            "items": len(self.links),
            "links": dict(sorted(self.links.items())),
            "review": dict(sorted(self.review.items())),
            "no_match": dict(sorted(self.no_match.items())),
        }


class Work:
    """One team's snapshot, indexed: the receipts, their candidates, and the ones this run judges."""

    def __init__(self, snapshot: TeamSnapshot, settings: ReconciliationSettings) -> None:
        self.tz = snapshot.team.timezone
        self.receipts = {str(r["id"]): r for r in snapshot.tables.get("receipts", [])}
        self.transactions = {str(t["id"]): t for t in snapshot.tables.get("transactions", [])}
        rows = list(self.transactions.values())
        self.candidates = {rid: find_candidates(r, rows, self.tz) for rid, r in self.receipts.items()}
        with_candidates = [rid for rid in self.receipts if self.candidates[rid]]
        self.batch = with_candidates[: settings.max_records]
        self.waiting = len(with_candidates) - len(self.batch)  # judged in a later run
        self.without = len(self.receipts) - len(with_candidates)  # nothing to judge yet

    def judge(self, rid: str, proposal: Any, settings: ReconciliationSettings) -> tuple[str, dict[str, Any]]:
        """('link' | 'review' | 'no_match', details) for the model's proposal for receipt `rid`."""
        if not isinstance(proposal, dict):
            return "no_match", {"why": "the model gave no answer for this receipt"}
        tid, confidence = proposal.get("transaction"), proposal.get("confidence")
        if tid in (None, "", NONE):
            return "no_match", {"why": "the model found none of the candidates to be this receipt's"}
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, int | float)
            or not 0 <= confidence <= 1
        ):
            return "no_match", {"why": f"confidence {confidence!r} is not a number from 0 to 1"}
        txn = self.transactions.get(str(tid))
        if txn is None:
            return "no_match", {
                "why": f"{one_line(str(tid))[:80]} is no unlinked expense transaction of the team"
            }
        failures = rule_failures(self.receipts[rid], txn, self.tz)
        if failures:
            return "no_match", {"why": f"refused {tid}: " + "; ".join(failures)}
        chosen = candidate(self.receipts[rid], txn, self.tz)
        assert chosen is not None  # the rules hold
        details = {"transaction": str(tid), "confidence": float(confidence)}
        if confidence > LINK_ABOVE:
            blocker = link_blocker(chosen, self.candidates[rid])
            if blocker is None:
                return "link", details
            return "review", {**details, "why": blocker}
        if confidence >= settings.review.min_confidence:
            return "review", {**details, "why": f"confidence {confidence:.2f} is not above {LINK_ABOVE}"}
        why = f"confidence {confidence:.2f} is below {settings.review.min_confidence} for {tid}"
        return "no_match", {"why": why}

    def decide(self, answer: dict[str, Any], settings: ReconciliationSettings) -> Decisions:
        matches = answer.get("matches") if isinstance(answer.get("matches"), dict) else {}
        recorded = answer.get("recorded") if isinstance(answer.get("recorded"), dict) else {}
        matches = {**matches, **recorded}  # what match_record recorded wins over the final words
        decided = Decisions()
        for rid in self.batch:
            verdict, details = self.judge(rid, matches.get(rid), settings)
            if verdict == "link":
                decided.links[rid] = details
            elif verdict == "review":
                decided.review[rid] = details
            else:
                decided.no_match[rid] = details["why"]
        # One transaction pays one receipt: of two links to it the surer one stays (then the
        # better score, then the earlier receipt), the other goes to a person.
        by_txn: dict[str, list[str]] = {}
        for rid, link in decided.links.items():
            by_txn.setdefault(link["transaction"], []).append(rid)
        for tid, rids in by_txn.items():
            if len(rids) < 2:
                continue
            rids.sort(key=lambda r: (-decided.links[r]["confidence"], -self._score(r, tid), r))
            for rid in rids[1:]:
                link = decided.links.pop(rid)
                decided.review[rid] = {**link, "why": f"{tid} is linked to {rids[0]} in this run"}
        return decided

    def _score(self, rid: str, tid: str) -> float:
        found = candidate(self.receipts[rid], self.transactions[tid], self.tz)
        return found.score if found else 0.0


# The loop's RESULT: `matches` for the receipts match_record was not called for (optional).
LOOP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"matches": {"type": "object", "description": "receipt id -> {transaction, confidence}"}},
}


def match_schema(work: Work) -> dict[str, Any]:
    """One required answer per receipt of the batch, keyed by its id; the transaction an enum of its
    candidates: a grammar-constrained model can name no other, and miss no receipt. "None of them"
    is a low confidence, not a word: the embedded model, offered "none", chose it for every
    receipt (seen 2026-12-02), and a low confidence is no match all the same."""
    matches = {
        rid: {
            "type": "object",
            "additionalProperties": False,
            "required": ["transaction", "confidence"],
            "properties": {
                "transaction": {
                    "type": "string",
                    "enum": [c.transaction_id for c in work.candidates[rid]],
                },
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
        }
        for rid in work.batch
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["matches"],
        "properties": {
            "matches": {
                "type": "object",
                "additionalProperties": False,
                "required": list(work.batch),
                "properties": matches,
            }
        },
    }


def _receipt_line(receipt: dict[str, Any], currency: str) -> str:
    amount = format_amount(int(receipt["amount_cents"]), str(receipt.get("currency") or currency))
    return (
        f"{amount} from {as_data(str(receipt.get('vendor_name') or '?'))}, "
        f"received {str(receipt['received_on'])[:10]}"
    )


def _candidate_line(found: Candidate, currency: str) -> str:
    return (
        f"{found.transaction_id}: {format_amount(found.amount_cents, currency)}, "
        f"{as_data(found.vendor_name)}, {found.day.isoformat()} (score {found.score:.2f})"
    )


class ReconciliationKind:
    """Hourly in UTC; each team once a day at its own `local_hour`."""

    name: ClassVar[str] = "reconciliation"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS  # the datasets it reads (jobs/inputs.py)
    writes: ClassVar[tuple[WriteTarget, ...]] = (LINKS,)  # what it writes (jobs/writes.py)
    settings_model: ClassVar[type[BaseModel]] = ReconciliationSettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "0 * * * *"

    # ------------------------------------------------------------------ who, when, what

    def due(self, team: Team, when: datetime, settings: ReconciliationSettings) -> bool:
        return serves_local_hour(team.timezone, when, settings.local_hour)

    def period(self, team: Team, when: datetime, settings: ReconciliationSettings) -> Period:
        """The `lookback_days` local days up to yesterday: the receipts received in them are judged."""
        return period_for(when, team.timezone, settings.lookback_days)

    def queries(self, team: Team, period: Period, settings: ReconciliationSettings) -> dict[str, Query]:
        first = period.start.date()
        return {
            "receipts": Query(RECEIPTS_SQL, {"team_id": team.id, "first": first, "last": period.day}),
            "transactions": Query(
                TRANSACTIONS_SQL,
                {
                    "team_id": team.id,
                    "start": _utc_naive(period.start - timedelta(days=6)),
                    "end": _utc_naive(period.end + timedelta(days=6)),
                },
            ),
        }

    # ------------------------------------------------------------------ the model

    def plan(
        self, snapshot: TeamSnapshot, settings: ReconciliationSettings, mode: Literal["loop", "structured"]
    ) -> KindPlan:
        work = Work(snapshot, settings)
        if not work.batch:
            return KindPlan(prompt="", answer={"matches": {}}, answer_reason="no receipt has a candidate")
        currency = snapshot.team.currency
        lines = [
            f"Match each receipt of team {as_data(snapshot.team.name)} to the transaction it pays. Its "
            "candidates were found by code (amount within 0.5 %, date within 5 days, a similar vendor "
            "name), best first; choose the one it pays, with a confidence from 0 to 1: above "
            f"{LINK_ABOVE} only when you are sure, 0 when none of them is the receipt's.",
        ]
        if mode == "loop":
            lines.append(
                "Call find_candidates with a receipt id for its candidates and match_record to propose "
                "one (code answers whether it links); a receipt you propose nothing for is no match."
            )
        lines += [f"Example: {_EXAMPLE}", "<data>"]
        for rid in work.batch:
            lines.append(f"receipt {rid}: {_receipt_line(work.receipts[rid], currency)}")
            lines += [f"  - {_candidate_line(c, currency)}" for c in work.candidates[rid]]
        lines.append("</data>")
        if mode == "structured":
            return KindPlan(prompt="\n".join(lines), result_schema=match_schema(work))
        # Loop mode: match_record records each proposal (its last one per receipt counts) and
        # `collect` hands them to render; `matches` in the RESULT covers the receipts it did not call.
        recorded: dict[str, dict[str, Any]] = {}
        return KindPlan(
            prompt="\n".join(lines),
            result_schema=LOOP_SCHEMA,
            tools=reconciliation_tools(work, settings, recorded),
            collect=lambda: {"recorded": dict(recorded)},
        )

    # ------------------------------------------------------------------ the artifact

    def heading(self, snapshot: TeamSnapshot, title: str) -> str:
        return f"# {one_line(title)} — {as_text(snapshot.team.name)}, {snapshot.period.key}"

    def render(
        self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: ReconciliationSettings, title: str
    ) -> Rendered:
        work = Work(snapshot, settings)
        result = work.decide(answer, settings).result()
        return Rendered(
            self.expected(snapshot, work, result, settings, self.heading(snapshot, title)), result
        )

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
        lines = [title_line, "", self.summary_line(work, result), ""]

        def receipt(rid: str) -> str:
            row = work.receipts[rid]
            amount = format_amount(int(row["amount_cents"]), str(row.get("currency") or currency))
            return (
                f"`{_code(rid)}` {amount} from {as_text(str(row.get('vendor_name') or '?'))} "
                f"(received {str(row['received_on'])[:10]})"
            )

        def txn(tid: str) -> str:
            row = work.transactions[tid]
            day = local_day(row["occurred_at"], work.tz).isoformat()
            amount = format_amount(int(row["amount_cents"]), str(row.get("currency") or currency))
            return f"`{_code(tid)}` {amount}, {as_text(str(row.get('vendor_name') or '?'))}, {day}"

        if result.get("links"):
            lines += ["## Linked", ""]
            for rid, link in result["links"].items():
                lines.append(
                    f"- {receipt(rid)} → {txn(link['transaction'])}, confidence {link['confidence']:.2f}"
                )
            lines.append("")
        if result.get("review"):
            how = (
                "a person approves or rejects each in the review step"
                if settings.review.enabled
                else "the review step is off: link them by hand if they are right"
            )
            lines += ["## For review", "", f"Not linked: {how}.", ""]
            for rid, item in result["review"].items():
                lines.append(
                    f"- {receipt(rid)} → {txn(item['transaction'])}, confidence {item['confidence']:.2f}: "
                    f"{as_text(str(item.get('why', '')))}"
                )
            lines.append("")
        if result.get("no_match"):
            lines += ["## No match", ""]
            lines += [f"- {receipt(rid)}: {as_text(str(why))}" for rid, why in result["no_match"].items()]
            lines.append("")
        return "\n".join(lines)

    def check(
        self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: ReconciliationSettings
    ) -> None:
        """Every decision of the RESULT is held to the snapshot again, then the summary to them."""
        work = Work(snapshot, settings)
        suffix = f" — {as_text(snapshot.team.name)}, {snapshot.period.key}"
        first = check_heading(markdown, ARTIFACT_FILE, suffix)
        groups = {k: result.get(k) or {} for k in ("links", "review", "no_match")}
        seen: dict[str, str] = {}
        for group, items in groups.items():
            if not isinstance(items, dict):
                raise CheckFailed(f"the result's {group!r} is not an object keyed by receipt id")
            for rid in items:
                if rid not in work.batch:
                    raise CheckFailed(f"the result decides {rid!r}, which is no receipt this run judges")
                if rid in seen:
                    raise CheckFailed(f"receipt {rid!r} is both in {seen[rid]!r} and in {group!r}")
                seen[rid] = group
        linked_txns: dict[str, str] = {}
        for group in ("links", "review"):
            for rid, item in groups[group].items():
                tid, confidence = str(item.get("transaction")), item.get("confidence")
                txn = work.transactions.get(tid)
                if txn is None:
                    raise CheckFailed(
                        f"receipt {rid!r} is matched to {tid!r}, no unlinked transaction of the team"
                    )
                failures = rule_failures(work.receipts[rid], txn, work.tz)
                if failures:
                    raise CheckFailed(f"receipt {rid!r} → {tid!r} breaks the rules: {'; '.join(failures)}")
                if not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
                    raise CheckFailed(f"receipt {rid!r} has no confidence from 0 to 1: {confidence!r}")
                if group == "links":
                    if confidence <= LINK_ABOVE:
                        raise CheckFailed(
                            f"receipt {rid!r} is linked at confidence {confidence}, not above 0.8"
                        )
                    chosen = candidate(work.receipts[rid], txn, work.tz)
                    blocker = link_blocker(chosen, work.candidates[rid]) if chosen else "no candidate"
                    if blocker:
                        raise CheckFailed(f"receipt {rid!r} is linked to {tid!r} though {blocker}")
                    if tid in linked_txns:
                        raise CheckFailed(f"{tid!r} is linked to both {linked_txns[tid]!r} and {rid!r}")
                    linked_txns[tid] = rid
                elif confidence < settings.review.min_confidence:
                    raise CheckFailed(f"receipt {rid!r} is up for review below the review band: {confidence}")
        missing = [rid for rid in work.batch if rid not in seen]
        if missing:
            raise CheckFailed(f"the result decides nothing for receipt(s) {', '.join(missing)}")
        if result.get("items") != len(groups["links"]):
            raise CheckFailed(
                f"the result says {result.get('items')!r} items; it links {len(groups['links'])}"
            )
        if markdown != self.expected(snapshot, work, result, settings, first):
            raise CheckFailed(f"{ARTIFACT_FILE} is not the summary of the result's decisions")

    def preview(self, markdown: str) -> str:
        lines = [line for line in markdown.splitlines() if line.strip()]
        return lines[1].strip() if len(lines) > 1 else ""

    # ------------------------------------------------------------------ the write (the apply task)

    def review_timeout(self, settings: ReconciliationSettings) -> timedelta | None:
        """How long the review step waits for a person; None: no review step (the default)."""
        if not settings.review.enabled:
            return None
        return timedelta(minutes=settings.review.timeout_minutes)

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
        from agentjobs.jobs.kinds.reconcile_write import decisions_of, write_decisions

        written = write_decisions(
            engine,
            period=snapshot.period.key,
            team_id=snapshot.team.id,
            decisions=decisions_of(result),
            writes=writes,
        )
        return {
            "linked": written.linked,
            "recorded": written.recorded,
            "already": written.already,
            "conflicts": written.conflicts,
        }


def reconciliation_tools(
    work: Work, settings: ReconciliationSettings, recorded: dict[str, dict[str, Any]]
) -> list[Tool]:
    def find_candidates(record_id: str) -> str:
        """The receipt's candidate transactions (top 5, best first), found by the rules in code."""
        if record_id not in work.batch:
            raise ValueError(
                f"no receipt {record_id!r} in this run; the receipts are: {', '.join(work.batch)}"
            )
        return json.dumps([c.as_tool_row() for c in work.candidates[record_id]], ensure_ascii=False)

    def match_record(record_id: str, candidate_id: str, confidence: float) -> str:
        """Propose that the receipt pays the candidate, with your confidence (0..1). Code checks the
        rules again and answers whether it will be linked, sent to review or refused (naming the
        rule); your last proposal per receipt counts. Links are written after the run is checked."""
        if record_id not in work.batch:
            raise ValueError(
                f"no receipt {record_id!r} in this run; the receipts are: {', '.join(work.batch)}"
            )
        proposal = {"transaction": candidate_id, "confidence": confidence}
        verdict, details = work.judge(record_id, proposal, settings)
        recorded[record_id] = proposal
        return json.dumps({"verdict": verdict, **details}, ensure_ascii=False)

    return [tool_from_function(find_candidates), tool_from_function(match_record)]


KIND = ReconciliationKind()

__all__ = ["ARTIFACT_FILE", "KIND", "ReconciliationKind", "ReconciliationSettings", "Work"]

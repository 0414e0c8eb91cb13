"""The `invoice_reconciliation` kind: each team's incoming payments allocated to the open invoices
they pay, with reconciliation's rules and review band (the receipts' sibling, on the user's own
tables only: the sample database has no payments, so a spec maps both inputs and `allocations`).

Once a local day per team (at `local_hour`), for the payments received in the last
`lookback_days` that are unallocated and not judged yet (agentjobs' ledger, record type
'payment'): code finds each payment's candidate invoices (payment_rules: the currency, an amount
of at most what is still due, a date from the issue day to 60 days after the due day, a payer
name like the customer's or a reference naming the number; top 5), the model picks one per
payment with a confidence, and code decides again, never from the model alone:
- linked: the rules hold, the confidence is above 0.8, the payment is the invoice's rest to the
  cent and no rival invoice of that amount stands unless the reference names this one;
- review: the rules hold but the confidence is in [review.min_confidence, 0.8], or a blocker
  stands; a part payment or an instalment is always a person's decision (the review step);
- no match: anything else, with the rule or the reason.
One payment pays one invoice (a payment split over two invoices is left to a person); an invoice
may take several payments over the days, each allocated once (`allocations` holds a payment
once), since what it still owes is read again each day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
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
from agentjobs.jobs.kinds.payment_rules import (
    LATE_DAYS,
    InvoiceCandidate,
    candidate,
    find_candidates,
    link_blocker,
    rule_failures,
)
from agentjobs.jobs.kinds.reconcile_rules import local_day
from agentjobs.jobs.kinds.reconcile_write import AUTO, Decision
from agentjobs.jobs.kinds.reconciliation import LINK_ABOVE, NONE, ReviewSettings
from agentjobs.jobs.markdown_text import as_text, one_line
from agentjobs.jobs.numbers import format_amount
from agentjobs.jobs.period import Period, period_for
from agentjobs.jobs.prompt_data import as_data
from agentjobs.jobs.writes import WriteColumn, WriteTarget

ARTIFACT_FILE = "invoice-reconciliation.md"
RECORD_TYPE = "payment"  # agentjobs' ledger's record type (receipts are 'receipt')
PICK = "invoice"  # the key of the chosen candidate in the RESULT's links and review
_EXAMPLE = '{"matches": {"<payment id>": {"invoice": "<one of its candidate ids>", "confidence": 0.9}}}'

ALLOCATIONS = WriteTarget(
    "allocations",
    "one row per payment allocated to the invoice it pays (a payment once; an invoice may take several)",
    (
        WriteColumn("payment_id", "text", "the payment's id, as the payments input reads it", required=True),
        WriteColumn("invoice_id", "text", "the id of the invoice it pays", required=True),
        WriteColumn("amount_cents", "integer", "what it allocates: the payment's amount, minor units"),
        WriteColumn("confidence", "decimal", "the model's confidence, 0 to 1"),
        WriteColumn("linked_at", "timestamp", "when the allocation was written (UTC)"),
        WriteColumn("linked_by", "text", f"who allocated it: {AUTO!r} (the run) or the reviewer's name"),
    ),
    unique=("payment_id",),
    ledger=True,
)

INPUTS = (
    Input(
        "payments",
        "the team's incoming payments of the lookback not allocated and not yet judged",
        (
            Column("id", "text"),
            Column("received_at", "timestamp", meaning="when it came in (UTC)"),
            Column("amount_cents", "integer", meaning="the amount in minor units, positive"),
            Column("currency", "text", meaning="ISO 4217 code", check="currency"),
            Column("payer_name", "text", nullable=True, meaning="the name the bank gives for the payer"),
            Column("reference", "text", nullable=True, meaning="the payer's own text: a number, or not"),
        ),
        ("team_id", "start", "end"),
        "",  # no sample default: the spec maps it (check_spec)
        "src.team_id = :team_id AND src.received_at >= :start AND src.received_at < :end",
        "src.received_at, src.id",
        ("team_id",),
    ),
    Input(
        "open_invoices",
        "the team's issued invoices with something still due",
        (
            Column("id", "text"),
            Column("number", "text"),
            Column("customer_name", "text", nullable=True),
            Column("issued_on", "date"),
            Column("due_on", "date"),
            Column("amount_due_cents", "integer", meaning="what is still owed, minor units"),
            Column("currency", "text", meaning="ISO 4217 code", check="currency"),
        ),
        ("team_id",),
        "",
        "src.team_id = :team_id",
        "src.due_on, src.id",
        ("team_id",),
    ),
)


class InvoiceReconciliationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    local_hour: int = Field(7, ge=0, le=23)  # the team's own hour of the daily run
    lookback_days: int = Field(90, ge=1, le=400)  # payments received in this many days up to yesterday
    max_records: int = Field(20, ge=1, le=500)  # payments judged per run; the rest wait a day
    review: ReviewSettings = Field(default_factory=ReviewSettings)


def _code(text: str) -> str:
    return one_line(text).replace("`", "'")


@dataclass
class Decisions:
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # pid -> {invoice, confidence, amount}
    review: dict[str, dict[str, Any]] = field(default_factory=dict)  # ... and why
    no_match: dict[str, str] = field(default_factory=dict)  # pid -> why

    def result(self) -> dict[str, Any]:
        return {
            "path": ARTIFACT_FILE,
            "items": len(self.links),
            "links": dict(sorted(self.links.items())),
            "review": dict(sorted(self.review.items())),
            "no_match": dict(sorted(self.no_match.items())),
        }


class Work:
    """One team's snapshot, indexed: the payments, their candidate invoices, and this run's batch."""

    def __init__(self, snapshot: TeamSnapshot, settings: InvoiceReconciliationSettings) -> None:
        self.tz = snapshot.team.timezone
        self.payments = {str(p["id"]): p for p in snapshot.tables.get("payments", [])}
        self.invoices = {str(i["id"]): i for i in snapshot.tables.get("open_invoices", [])}
        rows = list(self.invoices.values())
        self.candidates = {pid: find_candidates(p, rows, self.tz) for pid, p in self.payments.items()}
        with_candidates = [pid for pid in self.payments if self.candidates[pid]]
        self.batch = with_candidates[: settings.max_records]
        self.waiting = len(with_candidates) - len(self.batch)
        self.without = len(self.payments) - len(with_candidates)

    def amount(self, pid: str) -> int:
        return int(self.payments[pid]["amount_cents"])

    def judge(
        self, pid: str, proposal: Any, settings: InvoiceReconciliationSettings
    ) -> tuple[str, dict[str, Any]]:
        """('link' | 'review' | 'no_match', details) for the model's proposal for payment `pid`."""
        if not isinstance(proposal, dict):
            return "no_match", {"why": "the model gave no answer for this payment"}
        iid, confidence = proposal.get(PICK), proposal.get("confidence")
        if iid in (None, "", NONE):
            return "no_match", {"why": "the model found none of the candidates to be this payment's"}
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, int | float)
            or not 0 <= confidence <= 1
        ):
            return "no_match", {"why": f"confidence {confidence!r} is not a number from 0 to 1"}
        invoice = self.invoices.get(str(iid))
        if invoice is None:
            return "no_match", {"why": f"{one_line(str(iid))[:80]} is no open invoice of the team"}
        failures = rule_failures(self.payments[pid], invoice, self.tz)
        if failures:
            return "no_match", {"why": f"refused {iid}: " + "; ".join(failures)}
        chosen = candidate(self.payments[pid], invoice, self.tz)
        assert chosen is not None  # the rules hold
        details = {PICK: str(iid), "confidence": float(confidence), "amount_cents": self.amount(pid)}
        if confidence > LINK_ABOVE:
            blocker = link_blocker(chosen, self.candidates[pid])
            if blocker is None:
                return "link", details
            return "review", {**details, "why": blocker}
        if confidence >= settings.review.min_confidence:
            return "review", {**details, "why": f"confidence {confidence:.2f} is not above {LINK_ABOVE}"}
        return "no_match", {
            "why": f"confidence {confidence:.2f} is below {settings.review.min_confidence} for {iid}"
        }

    def decide(self, answer: dict[str, Any], settings: InvoiceReconciliationSettings) -> Decisions:
        matches = answer.get("matches") if isinstance(answer.get("matches"), dict) else {}
        recorded = answer.get("recorded") if isinstance(answer.get("recorded"), dict) else {}
        matches = {**matches, **recorded}  # what match_record recorded wins over the final words
        decided = Decisions()
        for pid in self.batch:
            verdict, details = self.judge(pid, matches.get(pid), settings)
            if verdict == "link":
                decided.links[pid] = details
            elif verdict == "review":
                decided.review[pid] = details
            else:
                decided.no_match[pid] = details["why"]
        # Each link pays the invoice's whole rest: a second one in the run would pay it twice, so
        # of two the surer stays (then the better score, then the earlier id), the other to a person.
        by_invoice: dict[str, list[str]] = {}
        for pid, link in decided.links.items():
            by_invoice.setdefault(link[PICK], []).append(pid)
        for iid, pids in by_invoice.items():
            if len(pids) < 2:
                continue
            pids.sort(key=lambda p: (-decided.links[p]["confidence"], -self._score(p, iid), p))
            for pid in pids[1:]:
                link = decided.links.pop(pid)
                decided.review[pid] = {**link, "why": f"{iid} is paid by {pids[0]} in this run"}
        return decided

    def _score(self, pid: str, iid: str) -> float:
        found = candidate(self.payments[pid], self.invoices[iid], self.tz)
        return found.score if found else 0.0


LOOP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"matches": {"type": "object", "description": "payment id -> {invoice, confidence}"}},
}


def match_schema(work: Work) -> dict[str, Any]:
    """One required answer per payment of the batch; the invoice an enum of its candidates."""
    matches = {
        pid: {
            "type": "object",
            "additionalProperties": False,
            "required": [PICK, "confidence"],
            "properties": {
                PICK: {"type": "string", "enum": [c.invoice_id for c in work.candidates[pid]]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
        }
        for pid in work.batch
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


def _payment_line(payment: dict[str, Any], tz: str, currency: str) -> str:
    amount = format_amount(int(payment["amount_cents"]), str(payment.get("currency") or currency))
    return (
        f"{amount} from {as_data(str(payment.get('payer_name') or '?'))}, reference "
        f"{as_data(str(payment.get('reference') or '-'))}, received {local_day(payment['received_at'], tz)}"
    )


def _candidate_line(found: InvoiceCandidate, currency: str) -> str:
    return (
        f"{found.invoice_id}: {as_data(found.number)} to {as_data(found.customer_name)}, "
        f"{format_amount(found.amount_due_cents, currency)} due {found.due_on.isoformat()}"
        f"{', reference names it' if found.named else ''} (score {found.score:.2f})"
    )


class InvoiceReconciliationKind:
    """Hourly in UTC; each team once a day at its own `local_hour`."""

    name: ClassVar[str] = "invoice_reconciliation"
    inputs: ClassVar[tuple[Input, ...]] = INPUTS
    writes: ClassVar[tuple[WriteTarget, ...]] = (ALLOCATIONS,)
    settings_model: ClassVar[type[BaseModel]] = InvoiceReconciliationSettings
    artifact_file: ClassVar[str] = ARTIFACT_FILE
    default_schedule: ClassVar[str] = "0 * * * *"
    review_pick: ClassVar[str] = PICK  # the review task's options name the proposed invoice
    review_noun: ClassVar[str] = "payment"

    def check_spec(self, spec: Any) -> None:
        """The sample database has no payments: both inputs and `allocations` must be mapped."""
        from agentjobs.jobs.spec import KindMismatch

        sql = spec.sources.sql
        for input_ in INPUTS:
            if sql is None or input_.name not in sql.inputs:
                raise KindMismatch(
                    f"sources.sql.inputs.{input_.name}",
                    f"kind {self.name!r} reads {input_.name!r} from your own tables (the sample database "
                    f"has none): map it with `sql:` or `table:`",
                )
        if sql is None or ALLOCATIONS.name not in sql.writes:
            raise KindMismatch(
                "sources.sql.writes.allocations",
                f"kind {self.name!r} writes its allocations to your own table: map `allocations`",
            )

    def due(self, team: Team, when: Any, settings: InvoiceReconciliationSettings) -> bool:
        return serves_local_hour(team.timezone, when, settings.local_hour)

    def period(self, team: Team, when: Any, settings: InvoiceReconciliationSettings) -> Period:
        """The `lookback_days` local days up to yesterday: the payments received in them are judged."""
        return period_for(when, team.timezone, settings.lookback_days)

    def queries(
        self, team: Team, period: Period, settings: InvoiceReconciliationSettings
    ) -> dict[str, Query]:
        from agentjobs.jobs.kinds.reconciliation import _utc_naive

        window = {"start": _utc_naive(period.start), "end": _utc_naive(period.end)}
        return {
            "payments": Query(INPUTS[0].default_sql, {"team_id": team.id, **window}),
            "open_invoices": Query(INPUTS[1].default_sql, {"team_id": team.id}),
        }

    def plan(
        self,
        snapshot: TeamSnapshot,
        settings: InvoiceReconciliationSettings,
        mode: Literal["loop", "structured"],
    ) -> KindPlan:
        work = Work(snapshot, settings)
        if not work.batch:
            return KindPlan(prompt="", answer={"matches": {}}, answer_reason="no payment has a candidate")
        currency = snapshot.team.currency
        lines = [
            f"Match each incoming payment of team {as_data(snapshot.team.name)} to the open invoice it "
            "pays. Its candidates were found by code (same currency, at most what is still due, received "
            f"from the issue day to {LATE_DAYS} days after the due day, a payer like the customer or a "
            "reference naming the number), best first; choose the one it pays, with a confidence from "
            f"0 to 1: above {LINK_ABOVE} only when you are sure, 0 when none of them is the payment's.",
        ]
        if mode == "loop":
            lines.append(
                "Call find_candidates with a payment id for its candidates and match_record to propose "
                "one (code answers whether it links); a payment you propose nothing for is no match."
            )
        lines += [f"Example: {_EXAMPLE}", "<data>"]
        for pid in work.batch:
            lines.append(f"payment {pid}: {_payment_line(work.payments[pid], work.tz, currency)}")
            lines += [f"  - {_candidate_line(c, currency)}" for c in work.candidates[pid]]
        lines.append("</data>")
        if mode == "structured":
            return KindPlan(prompt="\n".join(lines), result_schema=match_schema(work))
        recorded: dict[str, dict[str, Any]] = {}
        return KindPlan(
            prompt="\n".join(lines),
            result_schema=LOOP_SCHEMA,
            tools=invoice_tools(work, settings, recorded),
            collect=lambda: {"recorded": dict(recorded)},
        )

    def heading(self, snapshot: TeamSnapshot, title: str) -> str:
        return f"# {one_line(title)} — {as_text(snapshot.team.name)}, {snapshot.period.key}"

    def render(
        self,
        snapshot: TeamSnapshot,
        answer: dict[str, Any],
        settings: InvoiceReconciliationSettings,
        title: str,
    ) -> Rendered:
        work = Work(snapshot, settings)
        result = work.decide(answer, settings).result()
        return Rendered(
            self.expected(snapshot, work, result, settings, self.heading(snapshot, title)), result
        )

    def expected(
        self,
        snapshot: TeamSnapshot,
        work: Work,
        result: dict[str, Any],
        settings: InvoiceReconciliationSettings,
        title_line: str,
    ) -> str:
        currency = snapshot.team.currency
        counts = [len(result.get(k) or {}) for k in ("links", "review", "no_match")]
        summary = (
            f"{counts[0]} payment{'s' if counts[0] != 1 else ''} allocated, {counts[1]} for review, "
            f"{counts[2]} without a match of {len(work.batch)} judged; {work.without} without a "
            "candidate invoice"
        ) + (f", {work.waiting} left for the next run." if work.waiting else ".")
        lines = [title_line, "", summary, ""]

        def payment(pid: str) -> str:
            row = work.payments[pid]
            amount = format_amount(int(row["amount_cents"]), str(row.get("currency") or currency))
            day = local_day(row["received_at"], work.tz)
            return (
                f"`{_code(pid)}` {amount} from {as_text(str(row.get('payer_name') or '?'))}, reference "
                f"{as_text(str(row.get('reference') or '-'))} (received {day})"
            )

        def invoice(iid: str) -> str:
            row = work.invoices[iid]
            amount = format_amount(int(row["amount_due_cents"]), str(row.get("currency") or currency))
            return (
                f"`{_code(iid)}` {as_text(str(row.get('number') or '?'))} to "
                f"{as_text(str(row.get('customer_name') or '?'))}, {amount} due {str(row['due_on'])[:10]}"
            )

        if result.get("links"):
            lines += ["## Allocated", ""]
            for pid, link in result["links"].items():
                lines.append(f"- {payment(pid)} → {invoice(link[PICK])}, confidence {link['confidence']:.2f}")
            lines.append("")
        if result.get("review"):
            how = (
                "a person approves or rejects each in the review step"
                if settings.review.enabled
                else "the review step is off: allocate them by hand if they are right"
            )
            lines += ["## For review", "", f"Not allocated: {how}.", ""]
            for pid, item in result["review"].items():
                lines.append(
                    f"- {payment(pid)} → {invoice(item[PICK])}, confidence {item['confidence']:.2f}: "
                    f"{as_text(str(item.get('why', '')))}"
                )
            lines.append("")
        if result.get("no_match"):
            lines += ["## No match", ""]
            lines += [f"- {payment(pid)}: {as_text(str(why))}" for pid, why in result["no_match"].items()]
            lines.append("")
        return "\n".join(lines)

    def check(
        self,
        snapshot: TeamSnapshot,
        markdown: str,
        result: dict[str, Any],
        settings: InvoiceReconciliationSettings,
    ) -> None:
        """Every decision of the RESULT is held to the snapshot again, then the summary to them."""
        work = Work(snapshot, settings)
        first = check_heading(
            markdown, ARTIFACT_FILE, f" — {as_text(snapshot.team.name)}, {snapshot.period.key}"
        )
        groups = {k: result.get(k) or {} for k in ("links", "review", "no_match")}
        seen: dict[str, str] = {}
        for group, items in groups.items():
            if not isinstance(items, dict):
                raise CheckFailed(f"the result's {group!r} is not an object keyed by payment id")
            for pid in items:
                if pid not in work.batch:
                    raise CheckFailed(f"the result decides {pid!r}, which is no payment this run judges")
                if pid in seen:
                    raise CheckFailed(f"payment {pid!r} is both in {seen[pid]!r} and in {group!r}")
                seen[pid] = group
        paid: dict[str, str] = {}
        for group in ("links", "review"):
            for pid, item in groups[group].items():
                iid, confidence = str(item.get(PICK)), item.get("confidence")
                invoice = work.invoices.get(iid)
                if invoice is None:
                    raise CheckFailed(f"payment {pid!r} is matched to {iid!r}, no open invoice of the team")
                failures = rule_failures(work.payments[pid], invoice, work.tz)
                if failures:
                    raise CheckFailed(f"payment {pid!r} → {iid!r} breaks the rules: {'; '.join(failures)}")
                if not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
                    raise CheckFailed(f"payment {pid!r} has no confidence from 0 to 1: {confidence!r}")
                if item.get("amount_cents") != work.amount(pid):
                    raise CheckFailed(
                        f"payment {pid!r} allocates {item.get('amount_cents')!r}, not its amount"
                    )
                if group == "links":
                    if confidence <= LINK_ABOVE:
                        raise CheckFailed(
                            f"payment {pid!r} is linked at confidence {confidence}, not above 0.8"
                        )
                    chosen = candidate(work.payments[pid], invoice, work.tz)
                    blocker = link_blocker(chosen, work.candidates[pid]) if chosen else "no candidate"
                    if blocker:
                        raise CheckFailed(f"payment {pid!r} is linked to {iid!r} though {blocker}")
                    if iid in paid:
                        raise CheckFailed(f"{iid!r} is paid by both {paid[iid]!r} and {pid!r}")
                    paid[iid] = pid
                elif confidence < settings.review.min_confidence:
                    raise CheckFailed(f"payment {pid!r} is up for review below the review band: {confidence}")
        missing = [pid for pid in work.batch if pid not in seen]
        if missing:
            raise CheckFailed(f"the result decides nothing for payment(s) {', '.join(missing)}")
        if result.get("items") != len(groups["links"]):
            raise CheckFailed(
                f"the result says {result.get('items')!r} items; it links {len(groups['links'])}"
            )
        if markdown != self.expected(snapshot, work, result, settings, first):
            raise CheckFailed(f"{ARTIFACT_FILE} is not the summary of the result's decisions")

    def preview(self, markdown: str) -> str:
        lines = [line for line in markdown.splitlines() if line.strip()]
        return lines[1].strip() if len(lines) > 1 else ""

    # ------------------------------------------------------------------ the writes

    def review_timeout(self, settings: InvoiceReconciliationSettings) -> timedelta | None:
        if not settings.review.enabled:
            return None
        return timedelta(minutes=settings.review.timeout_minutes)

    def apply(
        self,
        snapshot: TeamSnapshot,
        result: dict[str, Any],
        settings: InvoiceReconciliationSettings,
        engine: Any,
        writes: Any = None,
    ) -> dict[str, list[str]]:
        """The validated decisions with their ledger rows, in one transaction (reconcile_write)."""
        from agentjobs.jobs.kinds.reconcile_write import write_decisions

        written = write_decisions(
            engine,
            period=snapshot.period.key,
            team_id=snapshot.team.id,
            decisions=decisions_of(result),
            writes=writes,
            record_type=RECORD_TYPE,
            write_target=ALLOCATIONS,
        )
        return {
            "linked": written.linked,
            "recorded": written.recorded,
            "already": written.already,
            "conflicts": written.conflicts,
        }

    def resolve_review(
        self,
        engine: Any,
        *,
        reviewer: str,
        team_id: str,
        approved: dict[str, str],
        rejected: list[str],
        writes: Any,
        proposals: dict[str, dict[str, Any]],
    ) -> Any:
        """A person's answer (the review task): approved payments allocated with their amounts."""
        from agentjobs.jobs.kinds.reconcile_write import resolve_review

        return resolve_review(
            engine,
            reviewer=reviewer,
            team_id=team_id,
            approved=approved,
            rejected=rejected,
            writes=writes,
            record_type=RECORD_TYPE,
            write_target=ALLOCATIONS,
            amounts={pid: int(proposals[pid]["amount_cents"]) for pid in approved},
        )


def decisions_of(result: dict[str, Any]) -> list[Decision]:
    """The decisions of a validated RESULT, in payment id order; the ledger's `transaction_id`
    holds the invoice."""
    found = [
        Decision(pid, "linked", str(v[PICK]), float(v["confidence"]), "", int(v["amount_cents"]))
        for pid, v in (result.get("links") or {}).items()
    ]
    found += [
        Decision(
            pid, "review", str(v[PICK]), float(v["confidence"]), str(v.get("why", "")), int(v["amount_cents"])
        )
        for pid, v in (result.get("review") or {}).items()
    ]
    found += [Decision(pid, "no_match", note=str(why)) for pid, why in (result.get("no_match") or {}).items()]
    return sorted(found, key=lambda d: d.record_id)


def invoice_tools(
    work: Work, settings: InvoiceReconciliationSettings, recorded: dict[str, dict[str, Any]]
) -> list[Tool]:
    def find_candidates(record_id: str) -> str:
        """The payment's candidate invoices (top 5, best first), found by the rules in code."""
        if record_id not in work.batch:
            raise ValueError(
                f"no payment {record_id!r} in this run; the payments are: {', '.join(work.batch)}"
            )
        return json.dumps([c.as_tool_row() for c in work.candidates[record_id]], ensure_ascii=False)

    def match_record(record_id: str, candidate_id: str, confidence: float) -> str:
        """Propose that the payment pays the candidate invoice, with your confidence (0..1). Code
        checks the rules again and answers whether it will be allocated, sent to review or refused
        (naming the rule); your last proposal per payment counts."""
        if record_id not in work.batch:
            raise ValueError(
                f"no payment {record_id!r} in this run; the payments are: {', '.join(work.batch)}"
            )
        proposal = {PICK: candidate_id, "confidence": confidence}
        verdict, details = work.judge(record_id, proposal, settings)
        recorded[record_id] = proposal
        return json.dumps({"verdict": verdict, **details}, ensure_ascii=False)

    return [tool_from_function(find_candidates), tool_from_function(match_record)]


KIND = InvoiceReconciliationKind()

__all__ = ["ALLOCATIONS", "ARTIFACT_FILE", "KIND", "InvoiceReconciliationKind", "Work"]

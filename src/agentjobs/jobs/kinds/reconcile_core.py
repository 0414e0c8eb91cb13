"""What the two reconciliation kinds share: records (receipts, payments) matched to targets
(transactions, invoices) by rules in code, the model's pick judged again against those rules and
the review band, the RESULT's three groups (`links`, `review`, `no_match`) checked against the
snapshot, the summary's sections, the loop's tools and the apply task's write.

Each kind keeps what differs: its inputs, its rules module (reconcile_rules, payment_rules, given
as `Rules`), its wording (`Wording`), its prompt's first lines and its summary's first line.
This is the kinds' run-time half: a DAG parse needs only their faces (reconcile_face.py, the spec
section and who is due), and each kind's `<kind>_run.py` builds on this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from agentjobs.jobs.kinds.base import (
    CheckFailed,
    KindPlan,
    Rendered,
    TeamSnapshot,
    check_heading,
)
from agentjobs.jobs.kinds.reconcile_face import LINK_ABOVE, NONE, MatchSettings, ReviewSettings
from agentjobs.jobs.markdown_text import as_text, one_line

if TYPE_CHECKING:  # annotations only: the tools' module loads when a task runs
    from agentjobs.agent.tools import Tool

GROUPS = ("links", "review", "no_match")

Row = dict[str, Any]


@dataclass(frozen=True)
class Rules:
    """A kind's matching rules: the functions of its rules module, and a candidate's target id."""

    find_candidates: Callable[[Row, list[Row], str], list[Any]]
    candidate: Callable[[Row, Row, str], Any]
    rule_failures: Callable[[Row, Row, str], list[str]]
    link_blocker: Callable[[Any, list[Any]], str | None]
    target_id: Callable[[Any], str]


@dataclass(frozen=True)
class Wording:
    """The words that differ between the kinds' messages, summaries and tools."""

    noun: str  # the record: "receipt"
    pick: str  # the RESULT's key of the chosen target: "transaction"
    unknown: str  # judge: an id that is no target, "no unlinked expense transaction of the team"
    unmatched: str  # check: the same, in the check's words
    taken: str  # two records on one target: "is linked to"
    linked: str  # the summary's heading of the links: "Linked"
    link: str  # what a person does by hand: "link"


def code(text: str) -> str:
    """An id inside backticks in the summary."""
    return one_line(text).replace("`", "'")


@dataclass
class Decisions:
    """What code decided for one run, as the RESULT carries it."""

    path: str
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {pick, confidence, ...}
    review: dict[str, dict[str, Any]] = field(default_factory=dict)  # ... and why
    no_match: dict[str, str] = field(default_factory=dict)  # id -> why

    def result(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "items": len(self.links),
            "links": dict(sorted(self.links.items())),
            "review": dict(sorted(self.review.items())),
            "no_match": dict(sorted(self.no_match.items())),
        }


class MatchWork:
    """One team's snapshot, indexed: the records, their candidates, and the ones this run judges."""

    def __init__(
        self,
        snapshot: TeamSnapshot,
        settings: MatchSettings,
        *,
        records: str,
        targets: str,
        rules: Rules,
        wording: Wording,
    ) -> None:
        self.tz = snapshot.team.timezone
        self.rules, self.wording = rules, wording
        self.records = {str(r["id"]): r for r in snapshot.tables.get(records, [])}
        self.targets = {str(t["id"]): t for t in snapshot.tables.get(targets, [])}
        rows = list(self.targets.values())
        self.candidates = {rid: rules.find_candidates(r, rows, self.tz) for rid, r in self.records.items()}
        with_candidates = [rid for rid in self.records if self.candidates[rid]]
        self.batch = with_candidates[: settings.max_records]
        self.waiting = len(with_candidates) - len(self.batch)  # judged in a later run
        self.without = len(self.records) - len(with_candidates)  # nothing to judge yet

    def extra(self, rid: str) -> dict[str, Any]:
        """What a kind adds to a link's or review's details (none here)."""
        return {}

    def judge(self, rid: str, proposal: Any, settings: MatchSettings) -> tuple[str, dict[str, Any]]:
        """('link' | 'review' | 'no_match', details) for the model's proposal for record `rid`."""
        noun, pick = self.wording.noun, self.wording.pick
        if not isinstance(proposal, dict):
            return "no_match", {"why": f"the model gave no answer for this {noun}"}
        tid, confidence = proposal.get(pick), proposal.get("confidence")
        if tid in (None, "", NONE):
            return "no_match", {"why": f"the model found none of the candidates to be this {noun}'s"}
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, int | float)
            or not 0 <= confidence <= 1
        ):
            return "no_match", {"why": f"confidence {confidence!r} is not a number from 0 to 1"}
        target = self.targets.get(str(tid))
        if target is None:
            return "no_match", {"why": f"{one_line(str(tid))[:80]} is {self.wording.unknown}"}
        failures = self.rules.rule_failures(self.records[rid], target, self.tz)
        if failures:
            return "no_match", {"why": f"refused {tid}: " + "; ".join(failures)}
        chosen = self.rules.candidate(self.records[rid], target, self.tz)
        assert chosen is not None  # the rules hold
        details = {pick: str(tid), "confidence": float(confidence), **self.extra(rid)}
        if confidence > LINK_ABOVE:
            blocker = self.rules.link_blocker(chosen, self.candidates[rid])
            if blocker is None:
                return "link", details
            return "review", {**details, "why": blocker}
        if confidence >= settings.review.min_confidence:
            return "review", {**details, "why": f"confidence {confidence:.2f} is not above {LINK_ABOVE}"}
        why = f"confidence {confidence:.2f} is below {settings.review.min_confidence} for {tid}"
        return "no_match", {"why": why}

    def decide(self, answer: dict[str, Any], settings: MatchSettings, path: str) -> Decisions:
        matches = answer.get("matches") if isinstance(answer.get("matches"), dict) else {}
        recorded = answer.get("recorded") if isinstance(answer.get("recorded"), dict) else {}
        matches = {**matches, **recorded}  # what match_record recorded wins over the final words
        decided = Decisions(path)
        for rid in self.batch:
            verdict, details = self.judge(rid, matches.get(rid), settings)
            if verdict == "link":
                decided.links[rid] = details
            elif verdict == "review":
                decided.review[rid] = details
            else:
                decided.no_match[rid] = details["why"]
        # A link takes its target whole (a transaction pays one receipt; a payment pays an
        # invoice's whole rest): of two links to one target the surer one stays (then the better
        # score, then the earlier id), the other goes to a person.
        by_target: dict[str, list[str]] = {}
        for rid, link in decided.links.items():
            by_target.setdefault(link[self.wording.pick], []).append(rid)
        for tid, rids in by_target.items():
            if len(rids) < 2:
                continue
            rids.sort(key=lambda r: (-decided.links[r]["confidence"], -self.score(r, tid), r))
            for rid in rids[1:]:
                link = decided.links.pop(rid)
                decided.review[rid] = {**link, "why": f"{tid} {self.wording.taken} {rids[0]} in this run"}
        return decided

    def score(self, rid: str, tid: str) -> float:
        found = self.rules.candidate(self.records[rid], self.targets[tid], self.tz)
        return found.score if found else 0.0


def loop_schema(wording: Wording) -> dict[str, Any]:
    """The loop's RESULT: `matches` for the records match_record was not called for (optional)."""
    description = f"{wording.noun} id -> {{{wording.pick}, confidence}}"
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {"matches": {"type": "object", "description": description}},
    }


def match_schema(work: MatchWork) -> dict[str, Any]:
    """One required answer per record of the batch, keyed by its id; the target an enum of its
    candidates: a grammar-constrained model can name no other, and miss no record. "None of them"
    is a low confidence, not a word: the embedded model, offered "none", chose it for every
    receipt (seen 2026-12-02), and a low confidence is no match all the same."""
    pick = work.wording.pick
    matches = {
        rid: {
            "type": "object",
            "additionalProperties": False,
            "required": [pick, "confidence"],
            "properties": {
                pick: {
                    "type": "string",
                    "enum": [work.rules.target_id(c) for c in work.candidates[rid]],
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


def match_tools(
    work: MatchWork,
    settings: MatchSettings,
    recorded: dict[str, dict[str, Any]],
    *,
    find_doc: str,
    match_doc: str,
) -> list[Tool]:
    """find_candidates and match_record, described to the model in the kind's words."""
    from agentjobs.agent.tools import tool_from_function  # run time: the tools' module is not parse's

    noun = work.wording.noun

    def known(record_id: str) -> None:
        if record_id not in work.batch:
            raise ValueError(f"no {noun} {record_id!r} in this run; the {noun}s are: {', '.join(work.batch)}")

    def find_candidates(record_id: str) -> str:
        known(record_id)
        return json.dumps([c.as_tool_row() for c in work.candidates[record_id]], ensure_ascii=False)

    def match_record(record_id: str, candidate_id: str, confidence: float) -> str:
        known(record_id)
        proposal = {work.wording.pick: candidate_id, "confidence": confidence}
        verdict, details = work.judge(record_id, proposal, settings)
        recorded[record_id] = proposal
        return json.dumps({"verdict": verdict, **details}, ensure_ascii=False)

    find_candidates.__doc__, match_record.__doc__ = find_doc, match_doc
    return [tool_from_function(find_candidates), tool_from_function(match_record)]


class MatchKind:
    """The model's side of a reconciliation kind, at run time (the kind's face,
    reconcile_face.MatchFace, hands plan, render and check to it). A subclass names its Work (a
    MatchWork made from a snapshot and settings), its wording, tools' descriptions and example, and
    writes `intro`, `record_line`, `candidate_line` (the prompt) and `expected` (the summary)."""

    wording: Wording
    artifact: str  # the artifact's file name
    example: str  # the prompt's example answer
    find_doc: str  # the tools' descriptions
    match_doc: str

    def work(self, snapshot: TeamSnapshot, settings: Any) -> MatchWork:
        raise NotImplementedError

    def intro(self, snapshot: TeamSnapshot) -> str:
        raise NotImplementedError

    def record_line(self, work: MatchWork, rid: str, currency: str) -> str:
        raise NotImplementedError

    def candidate_line(self, found: Any, currency: str) -> str:
        raise NotImplementedError

    def expected(
        self, snapshot: TeamSnapshot, work: Any, result: dict[str, Any], settings: Any, title_line: str
    ) -> str:
        raise NotImplementedError

    def check_item(self, work: Any, rid: str, item: dict[str, Any]) -> None:
        """A kind's own check of one link or review item (none here)."""

    # ------------------------------------------------------------------ the model

    def plan(self, snapshot: TeamSnapshot, settings: Any, mode: Literal["loop", "structured"]) -> KindPlan:
        work = self.work(snapshot, settings)
        noun = self.wording.noun
        if not work.batch:
            return KindPlan(prompt="", answer={"matches": {}}, answer_reason=f"no {noun} has a candidate")
        currency = snapshot.team.currency
        lines = [self.intro(snapshot)]
        if mode == "loop":
            lines.append(
                f"Call find_candidates with a {noun} id for its candidates and match_record to propose "
                f"one (code answers whether it links); a {noun} you propose nothing for is no match."
            )
        lines += [f"Example: {self.example}", "<data>"]
        for rid in work.batch:
            lines.append(f"{noun} {rid}: {self.record_line(work, rid, currency)}")
            lines += [f"  - {self.candidate_line(c, currency)}" for c in work.candidates[rid]]
        lines.append("</data>")
        if mode == "structured":
            return KindPlan(prompt="\n".join(lines), result_schema=match_schema(work))
        # Loop mode: match_record records each proposal (its last one per record counts) and
        # `collect` hands them to render; `matches` in the RESULT covers the records it did not call.
        recorded: dict[str, dict[str, Any]] = {}
        tools = match_tools(work, settings, recorded, find_doc=self.find_doc, match_doc=self.match_doc)
        return KindPlan(
            prompt="\n".join(lines),
            result_schema=loop_schema(self.wording),
            tools=tools,
            collect=lambda: {"recorded": dict(recorded)},
        )

    # ------------------------------------------------------------------ the artifact

    def heading(self, snapshot: TeamSnapshot, title: str) -> str:
        return f"# {one_line(title)} — {as_text(snapshot.team.name)}, {snapshot.period.key}"

    def render(self, snapshot: TeamSnapshot, answer: dict[str, Any], settings: Any, title: str) -> Rendered:
        work = self.work(snapshot, settings)
        result = work.decide(answer, settings, self.artifact).result()
        return Rendered(
            self.expected(snapshot, work, result, settings, self.heading(snapshot, title)), result
        )

    def sections(
        self,
        result: dict[str, Any],
        settings: Any,
        record: Callable[[str], str],
        target: Callable[[str], str],
    ) -> list[str]:
        """The summary's sections after its first line: links, review, no match."""
        pick, lines = self.wording.pick, []
        if result.get("links"):
            lines += [f"## {self.wording.linked}", ""]
            for rid, link in result["links"].items():
                lines.append(f"- {record(rid)} → {target(link[pick])}, confidence {link['confidence']:.2f}")
            lines.append("")
        if result.get("review"):
            how = (
                "a person approves or rejects each in the review step"
                if settings.review.enabled
                else f"the review step is off: {self.wording.link} them by hand if they are right"
            )
            lines += ["## For review", "", f"Not {self.wording.linked.lower()}: {how}.", ""]
            for rid, item in result["review"].items():
                lines.append(
                    f"- {record(rid)} → {target(item[pick])}, confidence {item['confidence']:.2f}: "
                    f"{as_text(str(item.get('why', '')))}"
                )
            lines.append("")
        if result.get("no_match"):
            lines += ["## No match", ""]
            lines += [f"- {record(rid)}: {as_text(str(why))}" for rid, why in result["no_match"].items()]
            lines.append("")
        return lines

    def check(self, snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: Any) -> None:
        """Every decision of the RESULT is held to the snapshot again, then the summary to them."""
        work = self.work(snapshot, settings)
        noun, pick, rules = self.wording.noun, self.wording.pick, work.rules
        suffix = f" — {as_text(snapshot.team.name)}, {snapshot.period.key}"
        first = check_heading(markdown, self.artifact, suffix)
        groups = {k: result.get(k) or {} for k in GROUPS}
        seen: dict[str, str] = {}
        for group, items in groups.items():
            if not isinstance(items, dict):
                raise CheckFailed(f"the result's {group!r} is not an object keyed by {noun} id")
            for rid in items:
                if rid not in work.batch:
                    raise CheckFailed(f"the result decides {rid!r}, which is no {noun} this run judges")
                if rid in seen:
                    raise CheckFailed(f"{noun} {rid!r} is both in {seen[rid]!r} and in {group!r}")
                seen[rid] = group
        taken: dict[str, str] = {}
        for group in ("links", "review"):
            for rid, item in groups[group].items():
                tid, confidence = str(item.get(pick)), item.get("confidence")
                target = work.targets.get(tid)
                if target is None:
                    raise CheckFailed(f"{noun} {rid!r} is matched to {tid!r}, {self.wording.unmatched}")
                failures = rules.rule_failures(work.records[rid], target, work.tz)
                if failures:
                    raise CheckFailed(f"{noun} {rid!r} → {tid!r} breaks the rules: {'; '.join(failures)}")
                if not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
                    raise CheckFailed(f"{noun} {rid!r} has no confidence from 0 to 1: {confidence!r}")
                self.check_item(work, rid, item)
                if group == "links":
                    if confidence <= LINK_ABOVE:
                        raise CheckFailed(
                            f"{noun} {rid!r} is linked at confidence {confidence}, not above 0.8"
                        )
                    chosen = rules.candidate(work.records[rid], target, work.tz)
                    blocker = rules.link_blocker(chosen, work.candidates[rid]) if chosen else "no candidate"
                    if blocker:
                        raise CheckFailed(f"{noun} {rid!r} is linked to {tid!r} though {blocker}")
                    if tid in taken:
                        raise CheckFailed(f"{tid!r} {self.wording.taken} both {taken[tid]!r} and {rid!r}")
                    taken[tid] = rid
                elif confidence < settings.review.min_confidence:
                    raise CheckFailed(f"{noun} {rid!r} is up for review below the review band: {confidence}")
        missing = [rid for rid in work.batch if rid not in seen]
        if missing:
            raise CheckFailed(f"the result decides nothing for {noun}(s) {', '.join(missing)}")
        if result.get("items") != len(groups["links"]):
            raise CheckFailed(
                f"the result says {result.get('items')!r} items; it links {len(groups['links'])}"
            )
        if markdown != self.expected(snapshot, work, result, settings, first):
            raise CheckFailed(f"{self.artifact} is not the summary of the result's decisions")


def written_of(
    engine: Any, snapshot: TeamSnapshot, decisions: list[Any], writes: Any, **target: Any
) -> dict[str, list[str]]:
    """Write the decisions with their ledger rows in one transaction (reconcile_write); what it did."""
    from agentjobs.jobs.kinds.reconcile_write import write_decisions

    written = write_decisions(
        engine,
        period=snapshot.period.key,
        team_id=snapshot.team.id,
        decisions=decisions,
        writes=writes,
        **target,
    )
    return {
        "linked": written.linked,
        "recorded": written.recorded,
        "already": written.already,
        "conflicts": written.conflicts,
    }


__all__ = [
    "LINK_ABOVE",
    "NONE",
    "MatchKind",
    "MatchSettings",
    "MatchWork",
    "ReviewSettings",
    "Rules",
    "Wording",
]

"""The reconciliation core both kinds share, held to each kind: the review band, one target taken
by one record per run, the check of the RESULT's groups, the summary's sections and review step,
and the loop's tools, each in the kind's own words (receipts linked to transactions, payments
allocated to invoices)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from agentjobs.agent.tools import ToolRegistry
from agentjobs.jobs.kinds import invoice_reconciliation, reconciliation
from agentjobs.jobs.kinds.base import CheckFailed, TeamSnapshot
from tests.jobs.kinds import test_invoice_reconciliation as invoices
from tests.jobs.kinds import test_reconciliation as receipts


@dataclass(frozen=True)
class Case:
    kind: Any
    settings_model: Any
    pick: str  # the RESULT's key of the chosen target
    snapshot: TeamSnapshot  # records "a" and "b", both within the rules of the one target "t"
    linked: str  # the summary's heading of the links
    taken: str  # how a target taken by another record is said
    by_hand: str  # what a person does by hand when the review step is off


RECEIPTS = Case(
    reconciliation.KIND,
    reconciliation.ReconciliationSettings,
    "transaction",
    receipts.snapshot([receipts.receipt("a"), receipts.receipt("b", day=21)], [receipts.txn("t")]),
    "Linked",
    "is linked to",
    "link",
)
PAYMENTS = Case(
    invoice_reconciliation.KIND,
    invoice_reconciliation.InvoiceReconciliationSettings,
    "invoice",
    invoices.snapshot([invoices.payment("a"), invoices.payment("b")], [invoices.invoice("t")]),
    "Allocated",
    "is paid by",
    "allocate",
)
CASES = pytest.mark.parametrize("case", [RECEIPTS, PAYMENTS], ids=["receipts", "payments"])


def answer(case: Case, **picks: float) -> dict[str, Any]:
    return {"matches": {rid: {case.pick: "t", "confidence": c} for rid, c in picks.items()}}


def rendered(case: Case, ans: dict[str, Any], **settings: Any) -> tuple[str, dict[str, Any]]:
    chosen = case.settings_model.model_validate(settings)
    out = case.kind.render(case.snapshot, ans, chosen, "Matched")
    case.kind.check(case.snapshot, out.markdown, out.result, chosen)  # code's decisions pass its check
    return out.markdown, out.result


@CASES
@pytest.mark.parametrize(
    ("confidence", "group"), [(0.95, "links"), (0.8, "review"), (0.5, "review"), (0.49, "no_match")]
)
def test_the_review_band_lies_between_its_minimum_and_0_8_for_both_kinds(case, confidence, group):
    _, result = rendered(case, answer(case, a=confidence))
    assert "a" in result[group]
    assert result["items"] == len(result["links"])


@CASES
def test_of_two_links_to_one_target_the_surer_stays_and_the_other_goes_to_a_person(case):
    _, result = rendered(case, answer(case, a=0.9, b=0.95))
    assert list(result["links"]) == ["b"]
    assert result["review"]["a"]["why"] == f"t {case.taken} b in this run"


@CASES
def test_the_check_refuses_a_record_decided_twice_or_not_at_all_naming_the_kinds_record(case):
    markdown, result = rendered(case, answer(case, a=0.9, b=0.2))
    noun = case.kind.wording.noun
    twice = {**result, "no_match": {**result["no_match"], "a": "forged"}}
    with pytest.raises(CheckFailed, match=f"{noun} 'a' is both in 'links' and in 'no_match'"):
        case.kind.check(case.snapshot, markdown, twice, case.settings_model())
    dropped = {**result, "no_match": {}}
    with pytest.raises(CheckFailed, match=rf"the result decides nothing for {noun}\(s\) b"):
        case.kind.check(case.snapshot, markdown, dropped, case.settings_model())


@CASES
def test_the_summary_says_whether_a_person_reviews_and_the_review_step_waits_only_when_on(case):
    off, _ = rendered(case, answer(case, a=0.9, b=0.6))
    on, _ = rendered(case, answer(case, a=0.9, b=0.6), review={"enabled": True, "timeout_minutes": 30})
    assert f"## {case.linked}" in off and "## For review" in off
    by_hand = f"the review step is off: {case.by_hand} them by hand if they are right."
    assert f"Not {case.linked.lower()}: {by_hand}" in off
    assert f"Not {case.linked.lower()}: a person approves or rejects each in the review step." in on
    assert case.kind.review_timeout(case.settings_model()) is None
    enabled = case.settings_model.model_validate({"review": {"enabled": True, "timeout_minutes": 30}})
    assert case.kind.review_timeout(enabled) == timedelta(minutes=30)


@CASES
def test_the_loop_tools_judge_in_code_and_refuse_a_record_outside_the_run(case):
    plan = case.kind.plan(case.snapshot, case.settings_model(), "loop")
    tools = ToolRegistry()
    for tool in plan.tools:
        tools.register(tool)
    noun = case.kind.wording.noun
    proposal = {"record_id": "a", "candidate_id": "t", "confidence": 0.6}
    verdict = json.loads(tools.call("match_record", json.dumps(proposal)).content)
    assert verdict["verdict"] == "review" and verdict[case.pick] == "t"
    assert plan.collect() == {"recorded": {"a": {case.pick: "t", "confidence": 0.6}}}
    refused = tools.call("find_candidates", json.dumps({"record_id": "zz"}))
    assert not refused.ok
    assert f"no {noun} 'zz' in this run; the {noun}s are: a, b" in refused.content

"""The reconciliation kind without Airflow: each rule keeps a proposal from linking whatever the
model says, the check refuses a forged link, and on the seed-7 sample a model that always names
the top candidate at 0.9 links with precision >= 0.98."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agentjobs.agent.skills import load_skill, model_from_json_schema
from agentjobs.agent.tools import ToolRegistry
from agentjobs.jobs.kinds.base import CheckFailed, PeriodRef, Team, TeamSnapshot
from agentjobs.jobs.kinds.reconciliation import KIND, ReconciliationSettings, Work
from agentjobs.jobs.period import period_of_day
from tests.delivery.inert import assert_no_bidi_controls

TZ = "Europe/Berlin"
SKILLS = Path(__file__).resolve().parents[3] / "include" / "skills"
HOSTILE = "[\u202eAcme](javascript:alert(1)) <!channel> @here"  # a right-to-left override too
SETTINGS = ReconciliationSettings()


def at(day: date, hour: int) -> str:
    """A local time of `day` as the ISO UTC string the sql source gives."""
    return (
        datetime.combine(day, time(hour), tzinfo=ZoneInfo(TZ))
        .astimezone(UTC)
        .isoformat()
        .replace("+00:00", "Z")
    )


def receipt(
    rid: str = "rcp-1", amount: int = 10_000, vendor: str = "Acme GmbH", day: int = 20
) -> dict[str, Any]:
    return {
        "id": rid,
        "vendor_id": "ven-1",
        "vendor_name": vendor,
        "received_on": date(2026, 11, day).isoformat(),
        "amount_cents": amount,
        "currency": "EUR",
    }


def txn(
    tid: str, amount: int = 10_000, vendor: str = "ACME Gmbh.", day: int = 19, hour: int = 10
) -> dict[str, Any]:
    return {
        "id": tid,
        "occurred_at": at(date(2026, 11, day), hour),
        "category": "office",
        "amount_cents": amount,
        "currency": "EUR",
        "vendor_id": "ven-2",
        "vendor_name": vendor,
    }


def snapshot(
    receipts: list[dict[str, Any]], transactions: list[dict[str, Any]], name: str = "Berlin"
) -> TeamSnapshot:
    team = Team(id="team-berlin", name=name, timezone=TZ, currency="EUR", slack_channel="#team-berlin")
    return TeamSnapshot(
        kind="reconciliation",
        team=team,
        period=PeriodRef.of(period_of_day(date(2026, 11, 28), TZ, 90)),
        tables={"receipts": receipts, "transactions": transactions},
    )


def answer(**matches: tuple[str, float]) -> dict[str, Any]:
    return {"matches": {rid: {"transaction": tid, "confidence": c} for rid, (tid, c) in matches.items()}}


def decide(snap: TeamSnapshot, ans: dict[str, Any]) -> dict[str, Any]:
    rendered = KIND.render(snap, ans, SETTINGS, "Receipts reconciled")
    KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)  # what code decides passes its own check
    return rendered.result


# --- each rule, in code, whatever the model says ----------------------------------------------

# The right transaction is always there (exact, a day before, the same company spelled otherwise),
# so the receipt is judged; the model names the one that breaks a rule, sure of it.
BREAKERS = {
    "amount": txn("txn-amount", amount=10_060),  # 0.6 % more
    "date": txn("txn-date", day=14),  # 6 days before
    "name": txn("txn-name", vendor="Pixelworks GmbH"),
}


@pytest.mark.parametrize("rule", sorted(BREAKERS))
def test_a_proposal_breaking_a_rule_never_links_nor_goes_to_review(rule):
    snap = snapshot([receipt()], [txn("txn-right"), BREAKERS[rule]])
    result = decide(snap, answer(**{"rcp-1": (BREAKERS[rule]["id"], 0.99)}))
    assert result["links"] == {} and result["review"] == {}
    assert result["no_match"]["rcp-1"].startswith(f"refused {BREAKERS[rule]['id']}: {rule}:"), result
    # Nor is it ever offered as a candidate.
    offered = [c.transaction_id for c in Work(snap, SETTINGS).candidates["rcp-1"]]
    assert offered == ["txn-right"]


@pytest.mark.parametrize(
    ("confidence", "group"), [(0.8, "review"), (0.81, "links"), (0.5, "review"), (0.49, "no_match")]
)
def test_a_link_needs_a_confidence_above_0_8_and_the_band_below_goes_to_review(confidence, group):
    snap = snapshot([receipt()], [txn("txn-right")])
    result = decide(snap, answer(**{"rcp-1": ("txn-right", confidence)}))
    assert set(result[group]) == {"rcp-1"}, result
    assert result["items"] == (1 if group == "links" else 0)


def test_a_rival_of_the_same_amount_or_an_inexact_amount_goes_to_review_however_sure_the_model_is():
    twice = snapshot([receipt()], [txn("txn-first", hour=9), txn("txn-second", hour=11)])
    result = decide(twice, answer(**{"rcp-1": ("txn-first", 0.99)}))
    assert result["review"]["rcp-1"]["why"] == "txn-second has the same amount", result
    # The earlier of a charge booked twice ranks first (the second is the duplicate).
    assert [c.transaction_id for c in Work(twice, SETTINGS).candidates["rcp-1"]] == [
        "txn-first",
        "txn-second",
    ]
    inexact = snapshot([receipt()], [txn("txn-near", amount=10_020)])
    assert "not exact" in decide(inexact, answer(**{"rcp-1": ("txn-near", 0.99)}))["review"]["rcp-1"]["why"]


def test_one_transaction_is_linked_to_one_receipt_only():
    snap = snapshot([receipt("rcp-1"), receipt("rcp-2", day=21)], [txn("txn-right")])
    result = decide(snap, answer(**{"rcp-1": ("txn-right", 0.9), "rcp-2": ("txn-right", 0.95)}))
    assert result["links"] == {"rcp-2": {"transaction": "txn-right", "confidence": 0.95}}
    assert result["review"]["rcp-1"]["why"] == "txn-right is linked to rcp-2 in this run"


def test_an_unknown_transaction_none_or_no_answer_is_no_match():
    snap = snapshot([receipt("rcp-1"), receipt("rcp-2"), receipt("rcp-3")], [txn("txn-right")])
    result = decide(snap, answer(**{"rcp-1": ("txn-elsewhere", 0.9), "rcp-2": ("none", 0.9)}))
    assert set(result["no_match"]) == {"rcp-1", "rcp-2", "rcp-3"} and result["links"] == {}
    assert "no unlinked expense transaction" in result["no_match"]["rcp-1"]


@pytest.mark.parametrize(
    ("forged", "says"),
    [
        ({"transaction": "txn-amount", "confidence": 0.9}, "breaks the rules: amount"),
        ({"transaction": "txn-right", "confidence": 0.8}, "not above 0.8"),
        ({"transaction": "txn-gone", "confidence": 0.9}, "no unlinked transaction"),
    ],
)
def test_the_check_refuses_a_result_whose_link_code_would_not_make(forged, says):
    snap = snapshot([receipt()], [txn("txn-right"), BREAKERS["amount"]])
    rendered = KIND.render(snap, answer(**{"rcp-1": ("txn-right", 0.9)}), SETTINGS, "Receipts reconciled")
    result = {**rendered.result, "links": {"rcp-1": forged}}
    with pytest.raises(CheckFailed, match=says):
        KIND.check(snap, rendered.markdown, result, SETTINGS)


def test_the_summary_is_the_decisions_and_escapes_source_text():
    snap = snapshot([receipt(vendor=HOSTILE)], [txn("txn-right", vendor=HOSTILE)], name="<!channel> *ops*")
    rendered = KIND.render(snap, answer(**{"rcp-1": ("txn-right", 0.9)}), SETTINGS, "Receipts reconciled")
    text = rendered.markdown
    assert "1 receipt linked, 0 for review, 0 without a match of 1 judged" in text
    assert "[Acme](" not in text and "<!channel>" not in text and "\\[Acme\\](" in text
    assert_no_bidi_controls(text)
    with pytest.raises(CheckFailed, match="not the summary"):
        KIND.check(snap, text.replace("confidence 0.90", "confidence 0.99"), rendered.result, SETTINGS)


def test_receipts_without_candidates_cost_no_model_call_and_the_batch_is_capped():
    receipts = [receipt(f"rcp-{n}", amount=10_000 + 1000 * n) for n in range(5)]
    transactions = [txn(f"txn-{n}", amount=10_000 + 1000 * n) for n in range(1, 4)]
    snap = snapshot(receipts, transactions)
    work = Work(snap, ReconciliationSettings(max_records=2))
    assert work.batch == ["rcp-1", "rcp-2"] and work.waiting == 1 and work.without == 2
    assert KIND.plan(snapshot([receipt()], []), SETTINGS, "structured").answer == {"matches": {}}


def test_the_structured_schema_names_only_each_receipts_candidates_and_the_loop_tools_check_in_code():
    snap = snapshot([receipt()], [txn("txn-right"), txn("txn-other", amount=10_010)])
    plan = KIND.plan(snap, SETTINGS, "structured")
    model = model_from_json_schema(plan.result_schema)
    model.model_validate(answer(**{"rcp-1": ("txn-right", 0.9)}))
    with pytest.raises(ValueError):
        model.model_validate(answer(**{"rcp-1": ("txn-elsewhere", 0.9)}))
    with pytest.raises(ValueError):
        model.model_validate({"matches": {}})  # every receipt answered
    loop = KIND.plan(snap, SETTINGS, "loop")
    registry = ToolRegistry()
    for tool in loop.tools:
        registry.register(tool)
    assert '"id": "txn-right"' in registry.call("find_candidates", json.dumps({"record_id": "rcp-1"})).content
    refused = registry.call(
        "match_record", json.dumps({"record_id": "rcp-1", "candidate_id": "txn-x", "confidence": 0.9})
    )
    assert '"verdict": "no_match"' in refused.content
    accepted = registry.call(
        "match_record", json.dumps({"record_id": "rcp-1", "candidate_id": "txn-right", "confidence": 0.9})
    )
    assert '"verdict": "link"' in accepted.content
    # What match_record recorded is the run's answer (the operator merges `collect` into it).
    rendered = KIND.render(snap, {**loop.collect(), "matches": {}}, SETTINGS, "t")
    assert rendered.result["links"] == {"rcp-1": {"transaction": "txn-right", "confidence": 0.9}}
    skill = load_skill("reconciliation", SKILLS)
    assert set(skill.allowed_tools or []) == {t.name for t in loop.tools}
    skill.result_model().model_validate(KIND.render(snap, answer(), SETTINGS, "t").result)


# --- the generated sample ----------------------------------------------------------------------


def test_precision_and_recall_on_the_sample_with_a_model_that_names_the_top_candidate(sample_db):
    """Every unmatched receipt of the seed-7 sample judged at once; precision and recall against
    truth.receipt_matches (docs/kinds/reconciliation.md quotes the numbers this prints)."""
    import sqlalchemy as sa

    from agentjobs.cli.run import serving_instant
    from agentjobs.jobs.kinds.snapshots import team_snapshot
    from agentjobs.sources.sql import read_tables, read_teams

    path, truth = sample_db
    true_of = {m.receipt_id: m.transaction_id for m in truth.receipt_matches}
    settings = ReconciliationSettings(lookback_days=400, max_records=500)
    engine = sa.create_engine(f"sqlite:///{path}")
    links: dict[str, str] = {}
    judged, unmatched = 0, []
    try:
        for team, members in read_teams(engine):
            when = serving_instant(KIND, settings, team, truth.last_day)
            snap = team_snapshot(KIND, settings, team, members, when, lambda q: read_tables(engine, q))
            work = Work(snap, settings)
            unmatched += list(work.receipts)
            judged += len(work.batch)
            top = {
                rid: {"transaction": work.candidates[rid][0].transaction_id, "confidence": 0.9}
                for rid in work.batch
            }
            rendered = KIND.render(snap, {"matches": top}, settings, "Receipts reconciled")
            KIND.check(snap, rendered.markdown, rendered.result, settings)
            links |= {rid: link["transaction"] for rid, link in rendered.result["links"].items()}
    finally:
        engine.dispose()
    relevant = [rid for rid in unmatched if rid in true_of]  # the 6 receipts with no transaction are not
    correct = sum(1 for rid, tid in links.items() if true_of.get(rid) == tid)
    precision, recall = correct / len(links), correct / len(relevant)
    print(
        f"\nreconciliation on the seed-7 sample: {len(unmatched)} unmatched receipts, {judged} with "
        f"candidates, {len(links)} linked, {correct} correct: precision {precision:.3f}, recall {recall:.3f}"
    )
    assert precision >= 0.98
    assert recall >= 0.85

"""The reconciliation rules in code: which transactions are a receipt's candidates, how alike names are."""

from __future__ import annotations

from datetime import date

from agentjobs.jobs.kinds.reconcile_rules import (
    find_candidates,
    link_blocker,
    local_day,
    name_key,
    name_similarity,
    rule_failures,
)
from tests.jobs.kinds.test_reconciliation import TZ, receipt, txn


def test_the_limits_themselves_pass_the_rules():
    inside = [txn("txn-amount", amount=10_050, day=19), txn("txn-date", day=15, hour=23)]
    rows = {c.transaction_id for c in find_candidates(receipt(), inside, TZ)}
    assert rows == {"txn-amount", "txn-date"}  # exactly 0.5 % and exactly 5 local days


def test_names_of_one_company_are_similar_and_of_two_are_not():
    assert name_similarity("ACME Gmbh.", "Acme G.m.b.H.") == 1.0
    assert name_similarity("Bright Ads Pty. Ltd.", "BrightAds PTY LTD") == 1.0
    assert name_similarity("Pixelworks Inc.", "Cloudnine Inc.") < 0.5
    assert name_similarity("RailGo K.K.", "Skyway Travel K.K.") < 0.5


def test_every_broken_rule_is_named_with_its_limit():
    far = txn("txn-far", amount=20_000, day=1, vendor="Pixelworks")
    assert rule_failures(receipt(), far, TZ) == [
        "amount: 20000 is not within 0.5 % of the receipt's 10000",
        "date: 19 days from the receipt's 2026-11-20, more than 5",
        "name: vendor 'Pixelworks' is 0.14 similar to the receipt's 'Acme GmbH', under 0.85",
    ]
    # The cheap rule first, and only it, when one is enough to refuse.
    assert rule_failures(receipt(), far, TZ, all_rules=False) == [
        "amount: 20000 is not within 0.5 % of the receipt's 10000"
    ]
    assert rule_failures(receipt(), txn("txn-right"), TZ) == []


def test_a_transaction_in_another_currency_is_never_a_match_whatever_its_amount():
    dollars = {**txn("txn-usd"), "currency": "USD"}
    assert rule_failures(receipt(), dollars, TZ) == ["currency: USD is not the receipt's EUR"]
    assert find_candidates(receipt(), [dollars], TZ) == []


def test_the_date_rule_counts_the_teams_local_days():
    # 23:30 UTC on the 14th is already the 15th in Berlin: 5 days before the 20th, inside the rule.
    late = {**txn("txn-late"), "occurred_at": "2026-11-14T23:30:00Z"}
    assert local_day(late["occurred_at"], TZ) == date(2026, 11, 15)
    assert local_day(late["occurred_at"], "UTC") == date(2026, 11, 14)
    assert rule_failures(receipt(), late, TZ) == []
    assert rule_failures(receipt(), late, "UTC") == [
        "date: 6 days from the receipt's 2026-11-20, more than 5"
    ]


def test_a_name_is_compared_without_case_accents_punctuation_or_legal_form():
    assert name_key("Société Générale S.A.") == "societegenerale"
    assert name_key("GmbH") == "gmbh"  # a name that is only a legal form keeps it
    assert name_similarity("", "Acme GmbH") == 0.0
    assert name_similarity("Müller GmbH & Co. KG", "MULLER") == 1.0


def test_candidates_rank_the_exact_amount_then_the_day_then_the_name():
    found = find_candidates(
        receipt(),
        [
            txn("txn-near-amount", amount=10_040, day=20),
            txn("txn-after-receipt", day=21),  # a receipt dated before its payment is unlikely
            txn("txn-day-before", day=19),
            txn("txn-same-day", day=20),
        ],
        TZ,
    )
    assert [c.transaction_id for c in found] == [
        "txn-same-day",
        "txn-day-before",
        "txn-after-receipt",
        "txn-near-amount",
    ]
    assert found[0].score == 1.0 and all(0 <= c.score < 1 for c in found[1:])
    assert found[0].as_tool_row() == {
        "id": "txn-same-day",
        "amount_cents": 10_000,
        "day": "2026-11-20",
        "vendor": "ACME Gmbh.",
        "amount_off_pct": 0.0,
        "days_off": 0,
        "name_similarity": 1.0,
        "score": 1.0,
    }


def test_of_equal_candidates_the_earlier_charge_ranks_first_and_only_the_top_five_are_offered():
    twice = find_candidates(receipt(), [txn("txn-b", hour=15), txn("txn-a", hour=9)], TZ)
    assert [c.transaction_id for c in twice] == ["txn-a", "txn-b"]
    many = find_candidates(receipt(), [txn(f"txn-{n}", hour=8 + n) for n in range(8)], TZ)
    assert [c.transaction_id for c in many] == [f"txn-{n}" for n in range(5)]
    assert len(find_candidates(receipt(), [txn(f"txn-{n}") for n in range(8)], TZ, top=2)) == 2


def test_code_links_only_an_exact_amount_without_a_rival_of_that_amount():
    exact, rival, near = find_candidates(
        receipt(), [txn("txn-exact", hour=9), txn("txn-rival", hour=11), txn("txn-near", amount=10_030)], TZ
    )
    assert near.transaction_id == "txn-near"
    assert link_blocker(exact, [exact]) is None
    assert link_blocker(exact, [exact, near]) is None  # an inexact rival does not block
    assert link_blocker(exact, [exact, rival, near]) == "txn-rival has the same amount"
    assert link_blocker(near, [near]) == "the amount is 0.30 % off, not exact"


def test_a_receipt_whose_amount_or_date_ocr_lost_has_no_candidate_and_waits_never_a_crash():
    lost = {**receipt(), "amount_cents": None}
    assert rule_failures(lost, txn("txn-right"), TZ) == ["amount: the receipt's amount is unknown"]
    assert find_candidates(lost, [txn("txn-right")], TZ) == []
    no_amount = {**txn("txn-null"), "amount_cents": None}
    assert rule_failures(receipt(), no_amount, TZ, all_rules=False) == [
        "amount: the transaction's amount is unknown"
    ]
    undated = {**receipt(), "received_on": None}
    assert rule_failures(undated, txn("txn-right"), TZ) == ["date: the receipt has no date"]
    assert find_candidates(undated, [txn("txn-right")], TZ) == []


def test_a_refund_matches_a_refund_of_its_size_never_a_charge_and_zero_only_zero():
    refund = receipt(amount=-10_000)
    assert [c.transaction_id for c in find_candidates(refund, [txn("txn-back", amount=-10_050)], TZ)] == [
        "txn-back"
    ]  # 0.5 % of its size, as for a charge
    assert rule_failures(refund, txn("txn-charge", amount=10_000), TZ, all_rules=False) == [
        "amount: 10000 is not within 0.5 % of the receipt's -10000"
    ]
    assert rule_failures(receipt(amount=0), txn("txn-zero", amount=0), TZ) == []
    assert rule_failures(receipt(amount=0), txn("txn-cent", amount=1), TZ, all_rules=False) != []

"""The reconciliation rules in code: which transactions are a receipt's candidates, how alike names are."""

from __future__ import annotations

from agentjobs.jobs.kinds.reconcile_rules import find_candidates, name_similarity
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

"""reconciliation at run time: the prompt gives each receipt its candidates in code's order, as
data (the kind's rules, summary and check are tested through the kind in test_reconciliation.py)."""

from __future__ import annotations

from agentjobs.jobs.kinds.reconciliation_run import MATCH, Work
from tests.jobs.kinds.test_reconciliation import SETTINGS, receipt, snapshot, txn


def test_the_prompt_lists_each_receipt_with_its_candidates_best_first():
    snap = snapshot([receipt("r1")], [txn("t-far", day=16), txn("t-near")])
    work = Work(snap, SETTINGS)
    assert [c.transaction_id for c in work.candidates["r1"]] == ["t-near", "t-far"]
    prompt = MATCH.plan(snap, SETTINGS, "structured").prompt
    lines = prompt.splitlines()
    first = lines.index("<data>") + 1
    assert lines[first] == "receipt r1: €100.00 from Acme GmbH, received 2026-11-20"
    assert [line.split(":")[0] for line in lines[first + 1 : first + 3]] == ["  - t-near", "  - t-far"]
    assert f"above {0.8} only when you are sure" in prompt

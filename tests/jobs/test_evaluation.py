"""An evaluation's report: its totals as a user reads them, grounding counted from the checks'
own words, and the reports kept per job and read back newest first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agentjobs.jobs.evaluation import (
    Evaluation,
    RunRow,
    Side,
    evals_folder,
    grounding_counts,
    load_evaluations,
    new_eval_id,
    write_evaluation,
)

WHEN = datetime(2026, 12, 7, 6, 15, 0, tzinfo=UTC)


def _evaluation(eval_id: str = "20261207T061500Z-other") -> Evaluation:
    ok = Side(contract_ok=True, items=3, tokens=350, cost_usd=0.0004, latency_s=1.5, calls=1)
    bad = Side(contract_ok=False, items=2, numbers=1, tokens=350, cost_usd=0.0004, latency_s=0.5, error="x")
    return Evaluation(
        eval_id=eval_id,
        job="anomaly_flags",
        llm_conn_id="other",
        model="other-model",
        created=WHEN,
        rows=[
            RunRow(run="t1/2026-11-29", team="t1", period="2026-11-29", delivered=ok, evaluated=ok),
            RunRow(run="t2/2026-11-29", team="t2", period="2026-11-29", delivered=ok, evaluated=bad),
            RunRow(run="t3/2026-11-30", team="t3", period="2026-11-30", skipped="skipped: no snapshot"),
        ],
    )


def test_totals_count_the_reruns_and_leave_the_skipped_run_out():
    totals = _evaluation().totals("evaluated")
    assert (totals.runs, totals.passed, totals.pass_rate) == (2, 1, 0.5)
    assert (totals.items, totals.numbers, totals.names, totals.tokens) == (5, 1, 0, 700)
    assert totals.cost_usd == pytest.approx(0.0008) and totals.latency_s == 2.0
    assert _evaluation().totals("delivered").pass_rate == 1.0


def test_a_cost_not_known_for_every_run_is_unknown_not_a_partial_sum():
    evaluation = _evaluation()
    evaluation.rows[0].delivered = Side(contract_ok=True, tokens=10)
    assert evaluation.totals("delivered").cost_usd is None


@pytest.mark.parametrize(
    ("message", "counts"),
    [
        ("bullet 2 states '12.5%', which no value of the snapshot supports at that precision", (1, 0)),
        (
            "the explanation of flag 'f-1' states 987654, which the data of 2026-11-30 does not support",
            (1, 0),
        ),
        ("states '7', which is none of the counts [1, 2]", (1, 0)),
        (
            "digest.md breaks the contract: Highlights bullet 1 names 'Zorblax', which is in no item of "
            "the snapshot: 'x'; Action items bullet 1 names \"Quux\", which is in no item of the snapshot",
            (0, 2),
        ),
        ("ContractViolation: the reply is not JSON", (0, 0)),
    ],
)
def test_grounding_is_counted_from_the_checks_words(message, counts):
    assert grounding_counts(message) == counts


def test_an_eval_id_is_a_time_and_a_label_fit_for_a_file_name():
    assert new_eval_id(WHEN, "other") == "20261207T061500Z-other"
    assert new_eval_id(WHEN, "../x y") == "20261207T061500Z-x-y"


def test_reports_are_written_per_job_and_read_back_newest_first(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    older, newer = _evaluation("20261206T010000Z-a"), _evaluation("20261207T010000Z-b")
    for evaluation in (older, newer):
        write_evaluation(evaluation)
    assert evals_folder("anomaly_flags") == tmp_path / "anomaly_flags" / "_evals"
    (evals_folder("anomaly_flags") / "20261208T010000Z-c.json").write_text("{not json")
    (evals_folder("anomaly_flags") / "notes.json").write_text("{}")  # no eval id: not a report
    found, broken = load_evaluations("anomaly_flags")
    assert [e.eval_id for e in found] == ["20261207T010000Z-b", "20261206T010000Z-a"]
    assert found[0].totals("evaluated").passed == 1
    assert broken == ["20261208T010000Z-c.json"]
    assert load_evaluations("no_such_job") == ([], [])
    assert load_evaluations("../x") == ([], [])

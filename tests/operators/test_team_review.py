"""A team's review task on its own: the proposals of validate's review band become one option each
(database text on one line), the subject counts them and the body shows them as text; with none it
asks nobody; unanswered in time, or answered by no one, nothing is approved or rejected.
(tests/scenarios/test_reconciliation.py has a person approve some through the HITL API.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agentjobs.jobs.spec import JobSpec, load_spec
from agentjobs.operators.factory import resolve_paths
from agentjobs.operators.team_review import TeamReviewOperator, option

REPO = Path(__file__).resolve().parents[2]
TEAM_RUN = {"team": "team-berlin", "period": "2026-11-24"}
REVIEW = {
    "rcpt-9": {"transaction": 4402, "confidence": 0.6, "why": "amount matches, date two days off"},
    "rcpt-10": {"transaction": "tx-77", "confidence": 0.75, "why": "same vendor **ACME** <b>bold</b>"},
}


@pytest.fixture
def spec() -> JobSpec:
    return resolve_paths(load_spec(REPO / "include" / "jobs" / "reconciliation.yaml"), REPO)


def context(review: dict[str, Any] | None) -> dict[str, Any]:
    pushed = {"team": "team-berlin", "result": {"links": {}, "review": review, "no_match": []}}
    return {"ti": SimpleNamespace(map_index=0, xcom_pull=lambda task_ids, map_indexes: pushed)}


def reviewer(spec: JobSpec) -> TeamReviewOperator:
    return TeamReviewOperator(task_id="review", spec=spec, team_run=TEAM_RUN, timeout=timedelta(minutes=30))


def test_an_option_names_the_receipt_the_transaction_and_the_confidence_on_one_line():
    assert option("rcpt-9", {"transaction": 4402, "confidence": 0.6}) == "rcpt-9 → 4402 (0.60)"
    hostile = option("rcpt\n-9\u202e", {"transaction": "tx\r\n77", "confidence": "0.756"})
    assert hostile == "rcpt -9 → tx 77 (0.76)"


def test_the_proposals_become_the_options_subject_and_body_in_receipt_order(spec):
    task = reviewer(spec)
    items = task.proposals(context(REVIEW))
    assert list(items) == ["rcpt-10", "rcpt-9"]
    assert task.options == ["rcpt-10 → tx-77 (0.75)", "rcpt-9 → 4402 (0.60)"]
    assert task.subject == f"{spec.title}: 2 receipt(s) of team-berlin to review, 2026-11-24"
    first, second = task.body.split("\n")
    # Database text is shown as text: no bold, no HTML from a vendor's name.
    assert first.startswith("- rcpt-10 → tx-77 (0.75): same vendor \\*\\*ACME\\*\\* &lt;b")
    assert second == "- rcpt-9 → 4402 (0.60): amount matches, date two days off"
    assert task.multiple and task.defaults == []  # several may be chosen; in time or not, none by default


@pytest.mark.parametrize("review", [None, {}])
def test_with_nothing_to_review_the_task_asks_nobody(spec, review):
    assert reviewer(spec).execute(context(review)) == {"approved": [], "rejected": [], "answered": False}


def test_unanswered_in_time_nothing_is_approved_or_rejected(spec, monkeypatch):
    def no_database(conn_id: str) -> None:
        raise AssertionError("an unanswered review must not write to the business database")

    monkeypatch.setattr("agentjobs.sources.sql.connection_engine", no_database)
    # What Airflow's HITL trigger sends when the timeout passes with the defaults: no one responded.
    timed_out = {
        "chosen_options": [],
        "params_input": {},
        "responded_at": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        "responded_by_user": None,
        "timedout": True,
    }
    assert reviewer(spec).execute_complete(context(REVIEW), timed_out) == {
        "approved": [],
        "rejected": [],
        "answered": False,
    }


def test_a_job_without_its_business_database_cannot_have_a_review(spec):
    no_sql = spec.model_copy(update={"sources": spec.sources.model_copy(update={"sql": None})})
    with pytest.raises(ValueError, match="has no sql source"):
        reviewer(no_sql)

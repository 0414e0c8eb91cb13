"""The digest's DAG: its PII review stands between validate and every delivery when the spec asks
for it (the detector, then the review agent when asked), and is absent otherwise."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agentjobs.jobs.spec import JobSpec, PiiReview, load_spec
from agentjobs.operators.factory import build_dag, resolve_paths

REPO = Path(__file__).resolve().parents[2]
DELIVERS = {"deliver_email_0", "deliver_slack_1", "deliver_s3_2"}


def digest(**changes) -> JobSpec:
    return resolve_paths(load_spec(REPO / "include" / "jobs" / "daily-digest.yaml"), REPO).model_copy(
        update=changes
    )


def test_without_a_pii_review_validate_hands_straight_to_the_deliveries():
    dag = build_dag(digest())
    assert not {"pii_review", "pii_review_agent"} & set(dag.task_ids)
    assert dag.get_task("validate").downstream_task_ids == DELIVERS


def test_the_pii_detector_stands_between_validate_and_every_delivery():
    dag = build_dag(digest(pii_review=PiiReview(enabled=True)))
    assert "pii_review_agent" not in dag.task_ids
    assert dag.get_task("validate").downstream_task_ids == {"pii_review"}
    assert dag.get_task("pii_review").downstream_task_ids == DELIVERS
    for deliver in DELIVERS:
        assert dag.get_task(deliver).upstream_task_ids == {"pii_review"}


def test_the_review_agent_runs_after_the_detector_in_the_llm_pool_and_before_any_delivery():
    dag = build_dag(digest(pii_review=PiiReview(enabled=True, agent=True)))
    assert dag.get_task("validate").downstream_task_ids == {"pii_review"}
    assert dag.get_task("pii_review").downstream_task_ids == {"pii_review_agent"}
    assert dag.get_task("pii_review_agent").downstream_task_ids == DELIVERS
    assert dag.get_task("pii_review_agent").pool == "agentjobs_llm"


def test_an_agent_review_without_the_review_enabled_adds_no_task():
    dag = build_dag(digest(pii_review=PiiReview(enabled=False, agent=True)))
    assert not {"pii_review", "pii_review_agent"} & set(dag.task_ids)


def test_the_run_timeout_is_three_agent_budgets_and_ten_minutes():
    spec = digest()
    assert build_dag(
        spec.model_copy(update={"caps": spec.caps.model_copy(update={"timeout_s": 1200})})
    ).dagrun_timeout == (timedelta(minutes=3 * 20 + 10))
    # No agent time limit in the spec: the budget is taken as 15 minutes.
    assert build_dag(
        spec.model_copy(update={"caps": spec.caps.model_copy(update={"timeout_s": None})})
    ).dagrun_timeout == (timedelta(minutes=3 * 15 + 10))

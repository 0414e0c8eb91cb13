"""The per-team DAG of a fan-out job: fetch, then each team's chain, with the steps the kind
declares (apply, a person's review, publish); a `teams` Param; a timeout sized for every team."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from agentjobs.jobs.spec import JobSpec, load_spec
from agentjobs.operators.factory import build_dag

REPO = Path(__file__).resolve().parents[2]


def shipped(name: str, tmp_path: Path, **changes: Any) -> JobSpec:
    """A shipped job spec, with some top-level fields changed, loaded as the DAG folder would."""
    data = yaml.safe_load((REPO / "include" / "jobs" / f"{name}.yaml").read_text())
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**data, **changes}))
    return load_spec(path)


def chain_of(dag) -> list[str]:
    """The DAG's task ids in the one order it allows; fails when two tasks could run side by side."""
    order: list[str] = []
    while len(order) < len(dag.task_ids):
        ready = [
            t for t in dag.task_ids if t not in order and dag.get_task(t).upstream_task_ids <= set(order)
        ]
        assert len(ready) == 1, f"after {order}: {ready} could run side by side"
        order.append(ready[0])
    return order


def test_each_team_is_summarized_validated_and_delivered_after_the_fetch_then_one_alert(tmp_path):
    dag = build_dag(shipped("weekly-insights", tmp_path))
    assert chain_of(dag) == ["fetch", "team.summarize", "team.validate", "team.deliver", "alert_on_failure"]
    # The team chain is mapped over the teams the fetch task found due.
    for task_id in ("team.summarize", "team.validate", "team.deliver"):
        assert dag.get_task(task_id).get_closest_mapped_task_group() is not None
    assert dag.get_task("fetch").get_closest_mapped_task_group() is None


def test_batch_mode_sends_every_team_as_one_batch_between_the_fetch_and_the_teams(tmp_path):
    online = build_dag(shipped("weekly-insights", tmp_path))
    dag = build_dag(shipped("weekly-insights", tmp_path, mode="batch"))
    assert chain_of(dag) == [
        "fetch",
        "batch",
        "team.summarize",
        "team.validate",
        "team.deliver",
        "alert_on_failure",
    ]
    assert dag.get_task("batch").get_closest_mapped_task_group() is None
    # The run may wait out the Batch API's day before its teams run.
    assert dag.dagrun_timeout - online.dagrun_timeout == timedelta(hours=26)


def test_chunks_keep_the_chain_with_chunk_tasks_that_hand_on_past_a_failed_team(tmp_path):
    from agentjobs.operators.team_chunk import ChunkAgentOperator, ChunkDeliverOperator, ChunkValidateOperator

    spec = shipped("weekly-insights", tmp_path, fan_out={"chunk_size": 10, "concurrency": 3}, pool="llm")
    dag = build_dag(spec)
    assert chain_of(dag) == ["fetch", "team.summarize", "team.validate", "team.deliver", "alert_on_failure"]
    summarize, validate, deliver = (dag.get_task(f"team.{t}") for t in ("summarize", "validate", "deliver"))
    assert (type(summarize), type(validate), type(deliver)) == (
        ChunkAgentOperator,
        ChunkValidateOperator,
        ChunkDeliverOperator,
    )
    assert summarize.pool == "llm" and summarize.concurrency == 3
    # A chunk's good teams go on when one fails: the later steps run once the earlier is done.
    assert (validate.trigger_rule, deliver.trigger_rule) == ("all_done", "all_done")
    # Ten teams at three at a time: four rounds of the 600 s time cap, plus the margin.
    assert summarize.execution_timeout == timedelta(seconds=600 * 4 + 60)
    # The default is today's graph, a chain per team.
    per_team = build_dag(shipped("weekly-insights", tmp_path))
    assert type(per_team.get_task("team.summarize")).__name__ == "TeamAgentOperator"


def test_chunks_by_the_pools_slots_size_their_backstop_for_max_teams_per_run_and_take_a_batch(tmp_path):
    spec = shipped(
        "weekly-insights",
        tmp_path,
        fan_out={"chunks": 2, "concurrency": 4},
        max_teams_per_run=40,
        mode="batch",
    )
    dag = build_dag(spec)
    assert chain_of(dag) == [
        "fetch",
        "batch",
        "team.summarize",
        "team.validate",
        "team.deliver",
        "alert_on_failure",
    ]
    # 40 teams in two chunks of 20, four at a time: five rounds of the 600 s time cap.
    assert dag.get_task("team.summarize").execution_timeout == timedelta(seconds=600 * 5 + 60)


def test_a_kind_that_writes_to_the_business_database_applies_before_it_delivers(tmp_path):
    dag = build_dag(shipped("enrichment", tmp_path))
    assert chain_of(dag) == [
        "fetch",
        "team.summarize",
        "team.validate",
        "team.apply",
        "team.deliver",
        "alert_on_failure",
    ]


def test_a_kind_with_a_document_publishes_it_before_delivering_the_message_that_links_it(tmp_path):
    dag = build_dag(shipped("compliance-report", tmp_path))
    assert chain_of(dag) == [
        "fetch",
        "team.summarize",
        "team.validate",
        "team.publish",
        "team.deliver",
        "alert_on_failure",
    ]
    assert dag.get_task("team.deliver").validate_task_id == "team.publish"


def test_in_chunks_a_kind_that_writes_applies_a_chunk_at_a_time_and_delivers_only_what_it_applied(tmp_path):
    from agentjobs.operators.team_chunk_steps import ChunkApplyOperator

    dag = build_dag(shipped("enrichment", tmp_path, fan_out={"chunk_size": 5}))
    assert chain_of(dag) == [
        "fetch",
        "team.summarize",
        "team.validate",
        "team.apply",
        "team.deliver",
        "alert_on_failure",
    ]
    apply, deliver = dag.get_task("team.apply"), dag.get_task("team.deliver")
    assert type(apply) is ChunkApplyOperator and apply.trigger_rule == "all_done"
    assert apply.get_closest_mapped_task_group() is not None
    # deliver reads validate's artifact, for the teams apply wrote.
    assert (deliver.validate_task_id, deliver.previous_task_id) == ("team.validate", "team.apply")


def test_in_chunks_a_kind_with_a_document_publishes_a_chunk_at_a_time_then_delivers_the_messages(tmp_path):
    from agentjobs.operators.team_chunk_steps import ChunkPublishOperator

    dag = build_dag(shipped("compliance-report", tmp_path, fan_out={"chunks": 2}))
    assert chain_of(dag) == [
        "fetch",
        "team.summarize",
        "team.validate",
        "team.publish",
        "team.deliver",
        "alert_on_failure",
    ]
    publish, deliver = dag.get_task("team.publish"), dag.get_task("team.deliver")
    assert type(publish) is ChunkPublishOperator and publish.trigger_rule == "all_done"
    assert (publish.validate_task_id, publish.previous_task_id) == ("team.validate", "team.validate")
    assert (deliver.validate_task_id, deliver.previous_task_id) == ("team.publish", "team.publish")


def test_a_reconciliation_without_its_review_chunks_and_a_review_built_past_the_spec_is_refused(tmp_path):
    import pytest

    spec = shipped("reconciliation", tmp_path, fan_out={"chunk_size": 5})
    assert "team.review" not in build_dag(spec).task_ids
    assert type(build_dag(spec).get_task("team.apply")).__name__ == "ChunkApplyOperator"
    section = {**spec.kind_section(), "review": {"enabled": True}}
    reviewed = JobSpec.model_construct(**{**dict(spec), "fan_out": spec.fan_out})
    reviewed._section, reviewed._settings = section, type(spec.kind_settings()).model_validate(section)
    with pytest.raises(ValueError, match="a per-team review does not run in chunks"):
        build_dag(reviewed)


def test_a_review_asked_for_waits_beside_delivery_and_lengthens_the_runs_timeout(tmp_path):
    without = shipped("reconciliation", tmp_path)
    assert "team.review" not in build_dag(without).task_ids
    section = {**without.kind_section(), "review": {"enabled": True, "timeout_minutes": 30}}
    reviewed = shipped("reconciliation", tmp_path, reconciliation=section)
    dag = build_dag(reviewed)
    assert dag.get_task("team.apply").downstream_task_ids == {"team.review", "team.deliver"}
    assert "team.review" not in dag.get_task("team.deliver").upstream_task_ids  # the summary does not wait
    assert dag.dagrun_timeout - build_dag(without).dagrun_timeout == timedelta(minutes=30)


def test_a_triggered_run_may_name_the_teams_it_serves_and_serves_every_due_team_by_default(tmp_path):
    params = build_dag(shipped("weekly-insights", tmp_path)).params
    assert params["teams"] == []
    assert params.get_param("teams").schema["items"] == {"type": "string"}


def test_the_run_timeout_covers_every_team_using_its_whole_budget_and_its_retries(tmp_path):
    spec = shipped(
        "weekly-insights",
        tmp_path,
        caps={"timeout_s": 600},
        retries=1,
        retry_delay_s=120,
        max_teams_per_run=10,
    )
    # Per team: two tries of 600 s and one 120 s delay (1320 s); ten teams; ten minutes around them.
    assert build_dag(spec).dagrun_timeout == timedelta(seconds=10 * 1320 + 600)
    more_teams = shipped(
        "weekly-insights",
        tmp_path,
        caps={"timeout_s": 600},
        retries=1,
        retry_delay_s=120,
        max_teams_per_run=20,
    )
    assert build_dag(more_teams).dagrun_timeout == timedelta(seconds=20 * 1320 + 600)
    # Two retries: three tries, and the delay doubles (120 s, then 240 s).
    retried = shipped(
        "weekly-insights",
        tmp_path,
        caps={"timeout_s": 600},
        retries=2,
        retry_delay_s=120,
        max_teams_per_run=10,
    )
    assert build_dag(retried).dagrun_timeout == timedelta(seconds=10 * (3 * 600 + 360) + 600)

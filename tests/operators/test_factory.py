"""The job DAG as the factory builds it from a spec: its tasks and their order, its schedule and
Params, a deadline it refuses, relative source paths, and a spec whose DAG cannot be built."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from agentjobs.jobs.spec import JobSpec, JobSpecError, load_spec
from agentjobs.operators.factory import (
    HEALTH_DAG_ID,
    build_dag,
    dagrun_timeout,
    dags_from_folder,
    raise_for_broken_specs,
    resolve_paths,
)

REPO = Path(__file__).resolve().parents[2]
DIGEST_YAML = REPO / "include" / "jobs" / "daily-digest.yaml"


def shipped_digest() -> JobSpec:
    return resolve_paths(load_spec(DIGEST_YAML), REPO)


def downstream(dag, task_id: str) -> set[str]:
    return set(dag.get_task(task_id).downstream_task_ids)


def test_the_digest_dag_fetches_each_source_then_summarizes_validates_and_delivers_to_each_channel():
    dag = build_dag(shipped_digest())
    fetches = {"fetch_git", "fetch_github", "fetch_rss"}
    delivers = {"deliver_email_0", "deliver_slack_1", "deliver_s3_2"}
    assert set(dag.task_ids) == fetches | {"summarize", "validate", "alert_on_failure"} | delivers
    for fetch in fetches:
        assert downstream(dag, fetch) == {"summarize"}
    assert downstream(dag, "summarize") == {"validate"}
    assert downstream(dag, "validate") == delivers
    # One alert per run, after every task: it is the only leaf.
    assert [task.task_id for task in dag.leaves] == ["alert_on_failure"]
    assert set(dag.get_task("alert_on_failure").upstream_task_ids) == delivers
    # The LLM pool caps the model calls across jobs; the fetches do not wait for it.
    assert dag.get_task("summarize").pool == "agentjobs_llm"
    assert dag.get_task("fetch_git").pool != "agentjobs_llm"


def test_the_dag_runs_on_the_specs_cron_in_the_specs_time_zone_one_run_at_a_time():
    spec = shipped_digest()
    dag = build_dag(spec)
    berlin = ZoneInfo("Europe/Berlin")
    assert dag.start_date == datetime(2026, 11, 1, tzinfo=berlin)
    # 03:00 in Berlin is 02:00 UTC in winter, 01:00 UTC in summer.
    assert _first_run_after(dag, datetime(2026, 12, 1, tzinfo=UTC)) == datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert _first_run_after(dag, datetime(2027, 7, 1, tzinfo=UTC)) == datetime(2027, 7, 1, 1, tzinfo=UTC)
    assert dag.max_active_runs == 1
    assert dag.catchup is True
    assert set(dag.tags) == {"agentjobs", "digest"}
    assert dag.dagrun_timeout == dagrun_timeout(spec)


def _first_run_after(dag, earliest: datetime) -> datetime:
    """The first logical date at or after `earliest`, as the scheduler computes it (in UTC)."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    info = coerce_to_core_timetable(dag.timetable).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=earliest, latest=None, catchup=True),
    )
    return info.logical_date.astimezone(UTC)


def test_a_triggered_run_can_redeliver_refetch_resummarize_and_change_caps_defaulting_to_the_specs():
    spec = shipped_digest()
    params = build_dag(spec).params
    assert params["force_redeliver"] is False
    assert params["refetch"] is False
    assert params["resummarize"] is False
    assert params["caps"] == spec.caps.model_dump()
    assert params["caps"]["max_cost_usd"] == 0.5


def test_retries_and_their_delay_come_from_the_spec():
    spec = shipped_digest().model_copy(update={"retries": 3, "retry_delay_s": 45})
    summarize = build_dag(spec).get_task("summarize")
    assert summarize.retries == 3
    assert summarize.retry_delay == timedelta(seconds=45)


def test_a_deadline_the_run_could_never_reach_is_refused_naming_both_limits_and_the_fix():
    spec = shipped_digest()
    stopped_after = dagrun_timeout(spec)
    too_late = int(stopped_after.total_seconds() // 60)
    with pytest.raises(JobSpecError) as raised:
        build_dag(spec.model_copy(update={"deadline_minutes": too_late}))
    message = str(raised.value)
    assert f"deadline_minutes {too_late}" in message
    assert f"({too_late:g} minutes)" in message
    assert "lower deadline_minutes" in message
    # One minute below the timeout is a deadline that can fire.
    dag = build_dag(spec.model_copy(update={"deadline_minutes": too_late - 1}))
    (deadline,) = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert deadline.interval == timedelta(minutes=too_late - 1)


def test_a_deadline_with_no_alert_channel_to_page_sets_no_deadline():
    spec = shipped_digest().model_copy(update={"alert": None})
    assert spec.deadline_minutes is not None
    assert not build_dag(spec).deadline


def test_relative_repository_and_feed_paths_resolve_against_the_project_and_urls_stay(tmp_path):
    spec = load_spec(DIGEST_YAML)
    spec.sources.git.repos = [".", "../elsewhere", "/srv/git/absolute", "https://example.org/r.git"]
    spec.sources.rss.feeds = ["include/feed.xml", "https://example.org/feed.xml"]
    resolved = resolve_paths(spec, tmp_path / "project")
    assert resolved.sources.git.repos == [
        str(tmp_path / "project"),
        str(tmp_path / "elsewhere"),
        "/srv/git/absolute",
        "https://example.org/r.git",
    ]
    assert resolved.sources.rss.feeds == [
        str(tmp_path / "project" / "include" / "feed.xml"),
        "https://example.org/feed.xml",
    ]
    # The spec it was given is left as it was (the DAG folder may hold it in a cache).
    assert spec.sources.git.repos[0] == "."


def test_a_spec_whose_dag_cannot_be_built_leaves_out_its_own_job_and_the_health_dag_names_it(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))  # where the spec verdict is kept
    jobs = tmp_path / "project" / "include" / "jobs"
    jobs.mkdir(parents=True)
    good = yaml.safe_load(DIGEST_YAML.read_text())
    (jobs / "daily-digest.yaml").write_text(yaml.safe_dump(good))
    # Valid on its own, but its deadline is past the run's timeout: only building the DAG finds it.
    late = {**good, "dag_id": "late_digest", "deadline_minutes": 7 * 24 * 60}
    (jobs / "late.yaml").write_text(yaml.safe_dump(late))

    dags = dags_from_folder(jobs)
    assert set(dags) == {"daily_digest", HEALTH_DAG_ID}
    (check,) = dags[HEALTH_DAG_ID].tasks
    assert [spec.dag_id for spec in check.specs] == ["daily_digest"]
    (broken,) = check.broken
    assert broken.dag_id == "late_digest"
    assert broken.error.startswith(f"{jobs / 'late.yaml'}: cannot build the job's DAG: JobSpecError:")
    assert "deadline_minutes 10080" in broken.error
    assert "\n" not in broken.error  # one line in the log and in the alert
    assert broken.error in caplog.text
    # ... and the spec-errors DAG file reports it as well, from the verdict the parse left.
    with pytest.raises(JobSpecError) as reported:
        raise_for_broken_specs(jobs)
    assert broken.error in str(reported.value)


def test_an_empty_jobs_folder_builds_no_dag_not_even_the_health_check(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    jobs = tmp_path / "project" / "include" / "jobs"
    jobs.mkdir(parents=True)
    assert dags_from_folder(jobs) == {}


def test_the_errors_file_judging_alone_also_refuses_a_ledger_that_can_split(tmp_path, monkeypatch):
    # No verdict of the jobs file yet (a fresh $AIRFLOW_HOME): the errors file checks itself.
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "KubernetesExecutor")
    monkeypatch.delenv("AGENTJOBS_LEDGER_CONN_ID", raising=False)
    monkeypatch.delenv("AGENTJOBS_LEDGER_SINGLE_HOST", raising=False)
    jobs = tmp_path / "project" / "include" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / "daily-digest.yaml").write_text(DIGEST_YAML.read_text())
    with pytest.raises(JobSpecError, match=r"job 'daily_digest' .* KubernetesExecutor runs tasks"):
        raise_for_broken_specs(jobs)
    # Its verdict is not recalled once the deployment sets a shared ledger.
    monkeypatch.setenv("AIRFLOW_CONN_SHARED_LEDGER", "postgresql://agentjobs@ledger-db:5432/ledger")
    monkeypatch.setenv("AGENTJOBS_LEDGER_CONN_ID", "shared_ledger")
    raise_for_broken_specs(jobs)
    assert set(dags_from_folder(jobs)) == {"daily_digest", HEALTH_DAG_ID}


@pytest.mark.parametrize("spec_file", ["daily-digest.yaml", "weekly-insights.yaml", "weekly-newsletter.yaml"])
def test_the_deadline_callback_keeps_the_alert_channel_as_json_data_for_the_triggerers_notifier(spec_file):
    import json

    from agentjobs.notifications.alert import JobAlertNotifier

    spec = resolve_paths(load_spec(REPO / "include" / "jobs" / spec_file), REPO)
    deadline = build_dag(spec).deadline
    (alert,) = deadline if isinstance(deadline, list) else [deadline]
    kwargs = alert.callback.kwargs
    # Stored with the DAG as JSON (no model objects, nothing of the kind's own section), and the
    # notifier the triggerer builds from it sends through the spec's alert channel.
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["channel"] == spec.alert.model_dump(mode="json")
    assert JobAlertNotifier(**kwargs).channel == spec.alert

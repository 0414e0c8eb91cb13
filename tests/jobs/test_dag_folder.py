"""The dags/ folder as the DAG processor sees it: the shipped jobs parse, bad specs fail loudly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.airflow


def dagbag(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def test_the_shipped_jobs_parse_into_dags(airflow_db):
    bag = dagbag(REPO / "dags")
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"daily_digest", "weekly_newsletter", "agentjobs_health"}
    digest = bag.get_dag("daily_digest")
    assert [t.task_id for t in digest.topological_sort()][:3] == ["fetch_git", "fetch_github", "fetch_rss"]
    assert {t.task_id for t in digest.tasks} >= {"summarize", "validate", "deliver_email_0", "deliver_s3_2"}
    assert digest.max_active_runs == 1 and digest.catchup is True
    assert set(digest.params.keys()) == {
        "force_redeliver",
        "refetch",
        "resummarize",
        "max_iterations",
        "max_total_tokens",
        "max_cost_usd",
    }
    assert digest.params["max_iterations"] == 40 and digest.params["max_cost_usd"] == 0.5
    assert (digest.timetable.expression, str(digest.timetable.timezone)) == ("0 3 * * *", "Europe/Berlin")
    newsletter = bag.get_dag("weekly_newsletter")
    assert {t.task_id for t in newsletter.tasks} == {"fetch_rss", "summarize", "validate", "deliver_email_0"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace("skill: daily-digest", "skil: daily-digest"), "field 'skil'"),
        (lambda text: text.replace("timezone: Europe/Berlin", "timezone: Mars/Olympus"), "unknown time zone"),
        (lambda text: text.replace("type: s3", "type: fax"), "field 'channels.2'"),
        (
            lambda text: text.replace("repos: [apache/airflow]", "repos: [not-a-repo]"),
            "sources.github.repos.0",
        ),
    ],
    ids=["unknown-key", "bad-timezone", "bad-channel", "bad-repo"],
)
def test_a_bad_spec_fails_parsing_naming_the_file_and_field(airflow_db, tmp_path, monkeypatch, edit, message):
    jobs = tmp_path / "include" / "jobs"
    jobs.mkdir(parents=True)
    spec = (REPO / "include" / "jobs" / "daily-digest.yaml").read_text()
    (jobs / "daily-digest.yaml").write_text(edit(spec))
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO / "dags" / "agentjobs_jobs.py", dags / "agentjobs_jobs.py")
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(jobs))
    bag = dagbag(dags)
    assert bag.dag_ids == []
    (error,) = bag.import_errors.values()
    assert "daily-digest.yaml" in error and message in error


def test_the_digest_declares_its_deadline_and_llm_pool(airflow_db):
    from airflow.sdk import AsyncCallback

    digest = dagbag(REPO / "dags").get_dag("daily_digest")
    (alert,) = digest.deadline if isinstance(digest.deadline, list) else [digest.deadline]
    assert alert.interval.total_seconds() == 45 * 60
    assert type(alert.reference).__name__ == "DagRunQueuedAtDeadline"
    assert isinstance(alert.callback, AsyncCallback)
    assert alert.callback.path == "agentjobs.notifications.alert.JobAlertNotifier"
    assert alert.callback.kwargs["kind"] == "deadline"
    # The deadline can fire only before the run is stopped by its dagrun_timeout.
    assert alert.interval < digest.dagrun_timeout
    assert digest.get_task("summarize").pool == "agentjobs_llm"
    assert digest.get_task("validate").pool == "default_pool"


def test_the_agent_finds_the_skills_beside_the_specs_from_any_working_folder(
    airflow_db, tmp_path, monkeypatch
):
    from agentjobs.agent.skills import load_skill

    # A worker started elsewhere, with no AGENTJOBS_SKILLS_DIR: ./include/skills is not there.
    monkeypatch.delenv("AGENTJOBS_SKILLS_DIR")
    monkeypatch.chdir(tmp_path)
    summarize = dagbag(REPO / "dags").get_dag("daily_digest").get_task("summarize")
    assert Path(summarize.skills_dir) == REPO / "include" / "skills"
    assert load_skill("daily-digest", Path(summarize.skills_dir)).name == "daily-digest"
    # A folder named in the environment still wins (read when the task runs).
    monkeypatch.setenv("AGENTJOBS_SKILLS_DIR", str(tmp_path / "skills"))
    assert dagbag(REPO / "dags").get_dag("daily_digest").get_task("summarize").skills_dir is None

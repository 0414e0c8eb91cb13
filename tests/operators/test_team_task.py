"""What every per-team task resolves from the `team_run` the fetch task handed it: the kind and its
settings, the team's folder and ledger keys (checked), its snapshot read only when asked, and a
spec with no business database refused before any run."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjobs.jobs.spec import JobSpec, load_spec
from agentjobs.operators.factory import resolve_paths
from agentjobs.operators.team_task import job_kind, sql_conn_id, team_context
from agentjobs.operators.team_validate import TeamValidateOperator

REPO = Path(__file__).resolve().parents[2]


def shipped(name: str) -> JobSpec:
    return resolve_paths(load_spec(REPO / "include" / "jobs" / name), REPO)


def test_a_team_run_resolves_to_the_kind_the_folder_and_the_ledger_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    spec = shipped("weekly-insights.yaml")
    team = team_context(spec, {"team": "team-berlin", "period": "2026-11-28"})
    assert (team.dag_id, team.team_id, team.period_key) == ("weekly_insights", "team-berlin", "2026-11-28")
    assert team.work_dir == tmp_path / "weekly_insights" / "team-berlin" / "2026-11-28"
    assert team.kind is job_kind(spec)[0] and team.settings == spec.kind_settings()
    assert team.settings.local_hour == 9  # the spec's own section, validated
    assert team.ledger_key() == ("weekly_insights/team-berlin", "2026-11-28")
    assert team.ledger_job() == "weekly_insights/team-berlin"


def test_a_windows_time_of_day_goes_into_the_ledger_job_and_its_day_stays_the_date(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    spec = shipped("batch-notifications.yaml")
    team = team_context(spec, {"team": "t1", "period": "2026-11-28T0930Z"})
    assert team.work_dir.name == "2026-11-28T0930Z"
    assert team.ledger_key() == (f"{spec.dag_id}/t1@0930Z", "2026-11-28")
    assert team.ledger_job() == f"{spec.dag_id}/t1"  # rows keyed by a day of their own


@pytest.mark.parametrize("team_run", [None, "team-berlin", {"team": "team-berlin"}, {"period": "2026-11-28"}])
def test_a_team_run_not_shaped_as_the_fetch_task_pushes_it_is_refused_showing_it(team_run):
    with pytest.raises(
        ValueError, match=r"expected \{'team': \.\.\., 'period': \.\.\.\} from the fetch task, got"
    ):
        team_context(shipped("weekly-insights.yaml"), team_run)


def test_a_team_id_that_cannot_name_a_folder_is_refused_before_any_file_is_touched(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    with pytest.raises(ValueError, match="cannot name a run folder"):
        team_context(shipped("weekly-insights.yaml"), {"team": "../etc", "period": "2026-11-28"})
    assert list(tmp_path.iterdir()) == []


def test_the_snapshot_is_read_when_asked_and_its_absence_says_where_to_clear_from(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    team = team_context(shipped("weekly-insights.yaml"), {"team": "team-berlin", "period": "2026-11-28"})
    with pytest.raises(FileNotFoundError, match=r"sql\.json is missing; clear the run from its 'fetch' task"):
        team.snapshot()


def test_a_task_that_reads_the_business_database_needs_the_specs_sql_source():
    assert sql_conn_id(shipped("weekly-insights.yaml")) == "agentjobs_business"
    with pytest.raises(ValueError, match=r"^job 'daily_digest' has no sql source$"):
        sql_conn_id(shipped("daily-digest.yaml"))


def test_the_team_run_is_a_template_field_so_each_mapped_task_gets_its_own():
    spec = shipped("weekly-insights.yaml")
    task = TeamValidateOperator(task_id="t", spec=spec, team_run="{{ ti.map_index }}")
    assert "team_run" in task.template_fields and task.team_run == "{{ ti.map_index }}"


class FailingTI:
    """A task instance whose XCom push may itself fail (the API server gone mid-failure)."""

    def __init__(self, refuse: bool) -> None:
        self.refuse, self.pushed = refuse, {}

    def xcom_push(self, key: str, value: str) -> None:
        if self.refuse:
            raise ConnectionError("api server gone")
        self.pushed[key] = value


@pytest.mark.parametrize("refuse", [False, True])
def test_a_failed_team_step_leaves_its_scrubbed_error_for_the_page_and_a_failed_push_only_warns(
    refuse, caplog
):
    import logging

    from agentjobs.operators.team_task import push_failure

    ti = FailingTI(refuse)
    secret = "sk-" + "a" * 40
    push_failure({"ti": ti}, RuntimeError(f"refused with key {secret}"), logging.getLogger("t"))
    if refuse:  # nothing pushed, and the push's failure is only a warning: the step's own error stands
        assert ti.pushed == {} and "could not record the failure" in caplog.text
    else:
        (pushed,) = ti.pushed.values()
        assert list(ti.pushed) == ["failure"] and pushed.startswith("RuntimeError: refused with key ")
        assert secret not in pushed

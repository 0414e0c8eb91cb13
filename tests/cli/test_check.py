"""`agentjobs check SPEC`: one line per input, exit 0 when the database fits the mapping, 1 when not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentjobs.cli import main
from tests.business.fixtures import sample_db  # noqa: F401

# `agentjobs check` runs in-process here: the session's metadata DB is set up first, so the
# command reads connections from it and does not leave Airflow pointed at its own output folder.
pytestmark = pytest.mark.usefixtures("airflow_db")

REPO = Path(__file__).resolve().parents[2]


def spec_file(folder: Path, inputs: dict[str, Any]) -> Path:
    data = yaml.safe_load((REPO / "include" / "jobs" / "overdue-reminders.yaml").read_text(encoding="utf-8"))
    data["sources"] = {"sql": {"conn_id": "check_db", "inputs": inputs}}
    path = folder / "reminders.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def check_db(sample_db: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv(
        "AIRFLOW_CONN_CHECK_DB", json.dumps({"conn_type": "sqlite", "host": str(sample_db[0])})
    )


def test_check_passes_a_good_mapping_and_names_a_bad_one(
    check_db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    good = "SELECT id, team_id, name, email, timezone FROM users ORDER BY team_id, id"
    assert (
        main(["check", str(spec_file(tmp_path, {"users": {"sql": good}})), "--out", str(tmp_path / "o")]) == 0
    )
    out = capsys.readouterr().out
    assert (
        "ok    teams (default)" in out and "ok    users (mapped)" in out and "ok    invoices (default)" in out
    )
    assert "every input matches" in out

    bad = "SELECT id, team_id, name, timezone FROM users ORDER BY team_id, id"  # no email
    path = spec_file(tmp_path, {"users": {"sql": bad}})
    assert main(["check", str(path), "--out", str(tmp_path / "o")]) == 1
    out = capsys.readouterr().out
    assert "FAIL  users (mapped): input 'users': column 'email' (text) is missing" in out
    assert f"fix sources.sql.inputs.users in {path.resolve()}:" in out
    assert "1 input(s) do not match" in out


def test_a_connection_the_spec_names_but_nobody_defined_is_an_error_not_the_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # It used to check the generated sample database in its place and say "every input matches".
    path = spec_file(tmp_path, {})
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("check_db", "never_defined_db"), encoding="utf-8")
    assert main(["check", str(path), "--out", str(tmp_path / "o")]) == 1
    out, err = capsys.readouterr()
    assert "business database connection 'never_defined_db' does not exist" in err
    assert "AIRFLOW_CONN_NEVER_DEFINED_DB=" in err
    assert "every input matches" not in out and not (tmp_path / "o" / "business.db").exists()


def reconciliation_file(folder: Path, writes: dict[str, Any]) -> Path:
    data = yaml.safe_load((REPO / "include" / "jobs" / "reconciliation.yaml").read_text(encoding="utf-8"))
    data["sources"] = {"sql": {"conn_id": "check_db", "writes": writes}}
    path = folder / "reconciliation.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_check_names_a_write_target_column_the_table_does_not_have(
    check_db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    good = {
        "links": {
            "update": {"table": "receipts", "key": "id", "columns": {"transaction_id": "transaction_id"}}
        }
    }
    assert main(["check", str(reconciliation_file(tmp_path, good)), "--out", str(tmp_path / "o")]) == 0
    assert "ok    writes.links (mapped)" in capsys.readouterr().out

    bad = {"links": {"update": {"table": "receipts", "key": "id", "columns": {"transaction_id": "txn_id"}}}}
    path = reconciliation_file(tmp_path, bad)
    assert main(["check", str(path), "--out", str(tmp_path / "o")]) == 1
    out = capsys.readouterr().out
    assert "FAIL  writes.links (mapped): write target 'links': table 'receipts' has no column 'txn_id'" in out
    assert f"fix sources.sql.writes.links in {path.resolve()}:" in out


def test_a_schedule_that_never_runs_at_a_teams_hour_is_named_with_the_teams(
    check_db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """weekly_insights serves a team at Sunday 09:00 team time: a daily 03:00 UTC run reaches no
    sample team's 09:00, and the job would deliver nothing, week after week, with every run green."""
    data = yaml.safe_load((REPO / "include" / "jobs" / "weekly-insights.yaml").read_text(encoding="utf-8"))
    data["sources"] = {"sql": {"conn_id": "check_db"}}
    shipped = tmp_path / "weekly.yaml"
    shipped.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(["check", str(shipped), "--out", str(tmp_path / "o")]) == 0
    assert "has no run" not in capsys.readouterr().out

    data["schedule"] = "0 3 * * *"
    daily = tmp_path / "weekly-daily.yaml"
    daily.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(["check", str(daily), "--out", str(tmp_path / "o")]) == 1
    out = capsys.readouterr().out
    assert "every input matches" in out  # the data fits; the schedule does not
    assert (
        "weekly_insights: its schedule '0 3 * * *' (UTC) has no run in five weeks that serves "
        "team-berlin, team-la, team-london, team-sydney, team-tokyo" in out
    )


def test_a_spec_path_that_does_not_exist_is_named_as_missing_not_as_an_unknown_job(tmp_path: Path):
    # It said "no job 'nosuch.yaml'; shipped jobs: ...", as if the file were there but unknown.
    missing = tmp_path / "jobs" / "nosuch.yaml"
    with pytest.raises(SystemExit) as exited:
        main(["check", str(missing), "--out", str(tmp_path / "o")])
    message = str(exited.value.code)
    assert f"the spec file '{missing}' does not exist (looked for {missing})" in message
    assert "check the path, or give the path of a spec file or a shipped job's dag_id (" in message
    assert "no job" not in message


def test_a_folder_given_as_the_spec_is_named_as_not_a_spec_file(tmp_path: Path):
    with pytest.raises(SystemExit) as exited:
        main(["check", f"{tmp_path}/", "--out", str(tmp_path / "o")])
    assert f"'{tmp_path}/' is not a spec file (a *.yaml or *.yml file)" in str(exited.value.code)


def test_a_job_id_that_is_not_shipped_keeps_naming_the_shipped_jobs(tmp_path: Path):
    with pytest.raises(SystemExit) as exited:
        main(["check", "overdue_reminder", "--out", str(tmp_path / "o")])
    message = str(exited.value.code)
    assert message.startswith("agentjobs: no job 'overdue_reminder'; shipped jobs: ")
    assert "overdue_reminders" in message


def test_a_database_that_cannot_be_reached_is_one_error_naming_the_connection_not_each_inputs_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # Each input said "the query does not run ((psycopg.OperationalError) ...); map it under
    # sources.sql.inputs.teams": no mapping fixes a database that does not answer.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_CHECK_DB", f"postgresql://shop:s3cret-pw@127.0.0.1:{port}/shop")
    assert main(["check", str(spec_file(tmp_path, {})), "--out", str(tmp_path / "o")]) == 1
    out, err = capsys.readouterr()
    assert f"business database connection 'check_db' (127.0.0.1:{port}) could not be reached" in err
    assert "check the host, port and credentials of connection 'check_db'" in err
    assert "map it under" not in out + err and "s3cret-pw" not in out + err


def test_a_skill_with_no_folder_fails_the_check_naming_the_field_before_the_database_is_read(
    check_db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # It passed ("every input matches"), and the job failed at its first agent task.
    skills = tmp_path / "include" / "skills"  # beside the spec's jobs folder, as the DAG file reads it
    (skills / "overdue-reminders").mkdir(parents=True)
    shipped = REPO / "include" / "skills" / "overdue-reminders" / "SKILL.md"
    (skills / "overdue-reminders" / "SKILL.md").write_bytes(shipped.read_bytes())
    jobs = tmp_path / "include" / "jobs"
    jobs.mkdir()
    path = spec_file(jobs, {})
    monkeypatch.delenv("AGENTJOBS_SKILLS_DIR", raising=False)
    assert main(["check", str(path), "--out", str(tmp_path / "o")]) == 0
    assert "every input matches" in capsys.readouterr().out

    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("skill: overdue-reminders", "skill: overdue-remindrs"), encoding="utf-8")
    monkeypatch.delenv("AGENTJOBS_SKILLS_DIR", raising=False)  # the command set it for its own run
    with pytest.raises(SystemExit) as exited:
        main(["check", str(path), "--out", str(tmp_path / "o2")])
    message = str(exited.value.code)
    assert message.startswith(
        f"agentjobs: {path.resolve()}: invalid job spec: field 'skill': skill 'overdue-remindrs' not found"
    )
    assert f"Searched {skills}" in message and "overdue-reminders" in message
    assert "every input matches" not in capsys.readouterr().out

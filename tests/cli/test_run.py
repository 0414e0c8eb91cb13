"""`agentjobs run JOB` as a user runs it: the sample business database made on first use, each team
run at its own hour, the artifacts printed; `agentjobs business-db` writes the database and its truth."""

from __future__ import annotations

import json
import re

from tests.cli.helpers import agentjobs, endpoint_env


def test_run_weekly_insights_makes_the_sample_database_and_prints_each_teams_week(model_server, tmp_path):
    out = tmp_path / "out"
    result = agentjobs(
        "run", "weekly_insights", "--out", str(out), env=endpoint_env(model_server), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "business.db").is_file() and (out / "business.truth.json").is_file()
    truth = json.loads((out / "business.truth.json").read_text())
    planted = next(c for c in truth["weekly_changes"] if c["week_end"] == truth["last_day"])
    headings = re.findall(r"^# Weekly insights — (.+), week (\S+)$", result.stdout, flags=re.M)
    assert len(headings) == 5, result.stdout  # every team of the sample, each at its own Sunday 09:00
    assert {week for _, week in headings} == {f"2026-11-22\u2013{truth['last_day']}"}
    assert f"{planted['change_pct']:.1f}" in result.stdout
    assert model_server.calls == 5


def test_run_anomaly_flags_for_one_team_and_day(model_server, tmp_path):
    out = tmp_path / "out"
    env = endpoint_env(model_server)
    first = agentjobs("business-db", "--out", str(out / "business.db"), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    truth = json.loads((out / "business.truth.json").read_text())
    duplicate = next(d for d in truth["duplicate_charges"] if d["day"] == truth["last_day"])
    result = agentjobs(
        "run", "anomaly_flags", "--team", duplicate["team_id"], "--out", str(out), env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert duplicate["duplicate_id"] in result.stdout, result.stdout
    assert "generating" not in result.stdout  # the database written before is the one read
    assert model_server.calls == 1


def test_a_team_whose_run_fails_is_named_with_its_own_reason(model_server, tmp_path):
    """The one line on failure quotes the team's failed task, not the run's alert task after it."""
    from tests.fakes.model_server import error

    env = endpoint_env(model_server)
    model_server.default_step = error(401, "invalid api key")
    result = agentjobs(
        "run", "anomaly_flags", "--team", "team-berlin", "--out", str(tmp_path / "out"), env=env, cwd=tmp_path
    )
    assert result.returncode == 1
    failed = "agentjobs: team-berlin failed"
    (line,) = [line for line in result.stderr.splitlines() if line.startswith(failed)]
    assert "team.summarize: ModelRequestError" in line and "401" in line, line
    assert "alert_on_failure" not in line


def test_run_names_the_shipped_jobs_when_the_job_is_unknown(tmp_path):
    result = agentjobs("run", "weekly_insight", "--out", str(tmp_path / "out"), env={}, cwd=tmp_path)
    assert result.returncode != 0
    assert "no job 'weekly_insight'" in result.stderr and "weekly_insights" in result.stderr


def test_run_says_a_spec_path_that_does_not_exist_is_missing(tmp_path):
    # It said "no job 'nosuch.yaml'", as if a spec were there that the project did not ship.
    result = agentjobs("run", "nosuch.yaml", "--out", str(tmp_path / "out"), env={}, cwd=tmp_path)
    assert result.returncode == 1
    assert (
        f"the spec file 'nosuch.yaml' does not exist (looked for {tmp_path / 'nosuch.yaml'})" in result.stderr
    )
    assert "no job" not in result.stderr and "weekly_insights" in result.stderr


def test_run_given_a_spec_file_says_it_takes_a_dag_id(tmp_path):
    (tmp_path / "mine.yaml").write_text("dag_id: mine\n", encoding="utf-8")
    result = agentjobs("run", "mine.yaml", "--out", str(tmp_path / "out"), env={}, cwd=tmp_path)
    assert result.returncode == 1
    assert "'mine.yaml' is a path; this command takes a shipped job's dag_id (" in result.stderr


def test_run_refuses_a_skill_with_no_folder_before_making_the_database(tmp_path):
    empty = tmp_path / "skills"
    empty.mkdir()
    out = tmp_path / "out"
    result = agentjobs(
        "run", "weekly_insights", "--out", str(out), env={"AGENTJOBS_SKILLS_DIR": str(empty)}, cwd=tmp_path
    )
    assert result.returncode == 1
    assert (
        "agentjobs: the spec of 'weekly_insights': invalid job spec: field 'skill': "
        "skill 'weekly-insights' not found" in result.stderr
    )
    assert not (out / "business.db").exists() and "generating" not in result.stdout


def test_a_day_no_run_covers_is_refused_naming_one_that_is(tmp_path):
    # weekly_insights covers weeks that end on a Saturday: a Monday is no run's last day.
    args = ("run", "weekly_insights", "--date", "2026-11-23", "--team", "team-berlin")
    result = agentjobs(*args, "--out", str(tmp_path / "out"), env={}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "no run of weekly_insights covers 2026-11-23 for team-berlin; pick another --date, "
        "e.g. 2026-11-21 (the last day before it that a run covers)"
    )


def test_a_database_of_another_seed_is_read_as_it_is_and_replaced_only_with_force(model_server, tmp_path):
    out = tmp_path / "out"
    database = out / "business.db"
    env = endpoint_env(model_server)
    made = agentjobs("business-db", "--seed", "42", "--out", str(database), env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    written = database.read_bytes()
    truth = json.loads((out / "business.truth.json").read_text())
    # Seed 42 plants Berlin's last-day duplicate under another id than seed 7 does.
    duplicate = next(
        d
        for d in truth["duplicate_charges"]
        if d["team_id"] == "team-berlin" and d["day"] == truth["last_day"]
    )
    result = agentjobs(
        "run", "anomaly_flags", "--team", "team-berlin", "--out", str(out), env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"reading the business database {database}" in result.stdout
    assert "it is the sample of seed 42" in result.stdout and "generating" not in result.stdout
    assert duplicate["duplicate_id"] in result.stdout, result.stdout
    assert (
        database.read_bytes() == written
        and json.loads((out / "business.truth.json").read_text())["seed"] == 42
    )

    again = agentjobs("business-db", "--out", str(database), env=env, cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"agentjobs: {database} exists and is kept; add --force to replace it and its truth file"
    )
    assert database.read_bytes() == written
    forced = agentjobs("business-db", "--out", str(database), "--force", env=env, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert json.loads((out / "business.truth.json").read_text())["seed"] == 7


def test_a_file_that_is_no_sample_database_is_kept_and_named_with_the_flag_that_replaces_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "business.db").write_bytes(b"the user's own notes")
    result = agentjobs("run", "weekly_insights", "--out", str(out), env={}, cwd=tmp_path)
    assert result.returncode == 1
    database = out / "business.db"
    assert result.stderr.strip() == (
        f"agentjobs: {database} has no business.truth.json beside it, so it is not read and kept as it is; "
        f"`agentjobs business-db --force --out {database}` replaces it with the sample, "
        "or give this command another --out"
    )
    assert database.read_bytes() == b"the user's own notes" and not (out / "business.truth.json").exists()


def test_run_a_day_before_the_specs_start_date_serves_that_day(model_server, tmp_path):
    """anomaly_flags starts 2026-11-01; the sample's Sydney duplicate of 2026-10-29 is still flagged."""
    out = tmp_path / "out"
    env = endpoint_env(model_server)
    result = agentjobs(
        "run",
        "anomaly_flags",
        "--team",
        "team-sydney",
        "--date",
        "2026-10-29",
        "--out",
        str(out),
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    truth = json.loads((out / "business.truth.json").read_text())
    duplicate = next(d for d in truth["duplicate_charges"] if d["team_id"] == "team-sydney")
    assert duplicate["day"] == "2026-10-29"
    assert duplicate["duplicate_id"] in result.stdout, result.stdout
    assert "nothing to report" not in result.stdout and model_server.calls == 1


def test_a_day_outside_the_sample_data_says_which_days_the_data_holds(model_server, tmp_path):
    """An empty week that is only empty because the data starts later is named as such."""
    out = tmp_path / "out"
    env = endpoint_env(model_server)
    args = ("run", "weekly_insights", "--date", "2025-06-07", "--team", "team-berlin", "--out", str(out))
    result = agentjobs(*args, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    truth = json.loads((out / "business.truth.json").read_text())
    assert "No transactions this week." in result.stdout
    assert (
        f"the sample business database holds {truth['first_day']} to {truth['last_day']}; "
        "2025-06-07 is outside it" in result.stdout.splitlines()[-1]
    )
    inside = agentjobs(*args[:3], truth["last_day"], *args[4:], env=env, cwd=tmp_path)
    assert inside.returncode == 0, inside.stderr[-2000:]
    assert "outside it" not in inside.stdout

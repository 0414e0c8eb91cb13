"""A fan-out run's keys from the business database: team ids and period keys name folders and
ledger rows, addresses reach mail headers; each must be the whole value, a trailing newline too."""

from __future__ import annotations

from datetime import date

import pytest

from agentjobs.jobs.kinds.base import PeriodRef, Team, TeamSnapshot
from agentjobs.jobs.period import period_of_day
from agentjobs.jobs.team_run import (
    LEDGER_JOB_MAX,
    check_period_key,
    check_team_id,
    chunk_team_ids,
    chunks,
    ledger_job,
    ledger_key,
    load_snapshot,
    snapshot_path,
    team_dir,
    team_key,
)


def test_plain_team_ids_and_period_keys_make_the_folder_and_the_ledger_key(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    assert team_dir("weekly_insights", "team-berlin", "2026-11-01") == (
        tmp_path / "weekly_insights" / "team-berlin" / "2026-11-01"
    )
    assert ledger_key("batch", "t1", "2026-11-01T0930Z") == ("batch/t1@0930Z", "2026-11-01")


@pytest.mark.parametrize("team_id", ["team-berlin\n", "team-berlin\r\n", "\nteam-berlin", "team berlin"])
def test_a_team_id_with_a_newline_names_no_folder(tmp_path, monkeypatch, team_id):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    with pytest.raises(ValueError, match="cannot name a run folder"):
        check_team_id(team_id)
    with pytest.raises(ValueError, match="cannot name a run folder"):
        team_dir("weekly_insights", team_id, "2026-11-01")


@pytest.mark.parametrize("key", ["2026-11-01\n", "2026-11-01T0930Z\n"])
def test_a_period_key_with_a_newline_is_no_period(key):
    with pytest.raises(ValueError, match="is neither a day"):
        check_period_key(key)
    with pytest.raises(ValueError, match="is neither a day"):
        ledger_key("batch", "t1", key)


@pytest.mark.parametrize(
    "addresses",
    ["m@example.org\n", "team@example.org,m@example.org\n", "m@example.org\r\nBcc: all@example.org"],
)
def test_an_address_from_the_database_with_a_newline_is_refused(addresses):
    from agentjobs.operators.team_deliver import check_addresses

    check_addresses("team@example.org,m@example.org")
    refused = "in the business database is not a plain email address; fix the row"
    with pytest.raises(ValueError, match=refused):
        check_addresses(addresses)


def test_a_mapped_tasks_team_run_gives_its_checked_team_and_period():
    assert team_key({"team": "team-berlin", "period": "2026-11-01T0930Z"}) == (
        "team-berlin",
        "2026-11-01T0930Z",
    )
    for broken in ({"team": "team-berlin"}, {"period": "2026-11-01"}, ["team-berlin", "2026-11-01"], None):
        with pytest.raises(
            ValueError, match=r"expected \{'team': \.\.\., 'period': \.\.\.\} from the fetch task"
        ):
            team_key(broken)
    with pytest.raises(ValueError, match="cannot name a run folder"):
        team_key({"team": "../other", "period": "2026-11-01"})


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("2026-02-30", "day is out of range"),
        ("2026-11-01T2400Z", "has no such time of day"),
        ("2026-11-01T0960Z", "has no such time of day"),
        ("2026-11-01T0930", "is neither a day"),
        ("2026-11-01 09:30", "is neither a day"),
        ("01.11.2026", "is neither a day"),
        (20261101, "is neither a day"),
    ],
)
def test_a_period_key_that_is_no_day_or_window_is_refused(key, says):
    with pytest.raises(ValueError, match=says):
        check_period_key(key)


def test_a_team_id_is_at_most_64_characters_starting_with_a_letter_or_digit():
    assert check_team_id("t" * 64) == "t" * 64
    for team_id in ("t" * 65, "-team", ".hidden", "", 42):
        with pytest.raises(ValueError, match="cannot name a run folder"):
            check_team_id(team_id)


def test_a_ledger_job_longer_than_its_column_is_refused_naming_the_fix():
    dag_id = "d" * (LEDGER_JOB_MAX - len("/t1"))
    assert ledger_job(dag_id, "t1") == f"{dag_id}/t1"
    with pytest.raises(ValueError, match=r"is longer than the ledger's 250 characters; shorten the dag_id"):
        ledger_job(dag_id + "d", "t1")
    # A window's time makes the job longer: the limit holds for it too.
    with pytest.raises(ValueError, match="shorten the dag_id"):
        ledger_key(dag_id, "t1", "2026-11-01T0930Z")
    assert ledger_key(dag_id, "t1", "2026-11-01") == (f"{dag_id}/t1", "2026-11-01")


def test_a_teams_snapshot_is_read_back_from_its_run_folder(tmp_path):
    snapshot = TeamSnapshot(
        kind="weekly_insights",
        team=Team(id="t1", name="Berlin", timezone="Europe/Berlin", currency="EUR", slack_channel="#t1"),
        period=PeriodRef.of(period_of_day(date(2026, 11, 1), "Europe/Berlin")),
        tables={"orders": [{"id": "o1", "amount_cents": 2500}]},
    )
    path = snapshot_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(snapshot.model_dump_json(), encoding="utf-8")
    assert load_snapshot(tmp_path) == snapshot


def test_a_missing_snapshot_says_to_clear_the_run_from_its_fetch_task(tmp_path):
    with pytest.raises(FileNotFoundError) as missing:
        load_snapshot(tmp_path)
    assert (
        str(missing.value)
        == f"{snapshot_path(tmp_path)} is missing; clear the run from its 'fetch' task to fetch again"
    )


def test_the_fetch_list_is_left_as_it_is_for_chunks_of_one_and_cut_in_order_otherwise():
    runs = [{"team": f"t{n}", "period": "2026-11-29"} for n in range(7)]
    assert chunks(runs, 1) == runs
    assert [chunk_team_ids(c) for c in chunks(runs, 3)] == [["t0", "t1", "t2"], ["t3", "t4", "t5"], ["t6"]]
    assert chunks([], 3) == []
    assert chunk_team_ids(runs[2]) == ["t2"]
    # fan_out.chunks above the teams due: chunks of one team, still lists for the chunk tasks
    assert chunks(runs[:2], 1, chunked=True) == [[runs[0]], [runs[1]]]

"""A fan-out run's keys from the business database: team ids and period keys name folders and
ledger rows, addresses reach mail headers; each must be the whole value, a trailing newline too."""

from __future__ import annotations

import pytest

from agentjobs.jobs.team_run import check_period_key, check_team_id, ledger_key, team_dir


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

"""Several delivery targets per team: a `team_targets` table mapped in YAML adds slack channels
and email lists to a team's own; the contract check covers it; a bad row fails its team only;
a spec that does not map it reads the teams as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.jobs.input_check import check_inputs, source_pairs
from agentjobs.jobs.inputs import RowContractError, team_queries
from agentjobs.jobs.kinds.registry import kind
from agentjobs.jobs.kinds.snapshots import team_snapshot
from agentjobs.jobs.spec import load_spec
from agentjobs.sources.sql import read_tables, read_teams
from tests.jobs import test_inputs
from tests.jobs.test_inputs import WHEN, write_spec

acme_db = test_inputs.acme_db  # the sample database copied, with the company's own names

TARGETS = """
CREATE TABLE acme_targets (workspace TEXT, kind TEXT, address TEXT);
INSERT INTO acme_targets VALUES
  ('team-berlin', 'slack', '#berlin-leads'),
  ('team-berlin', 'slack', '#team-berlin'),
  ('team-berlin', 'email', 'cfo@example.org, ops@example.org'),
  ('team-tokyo', 'slack', '#tokyo');
"""
TARGETS_SQL = "SELECT workspace AS team_id, kind AS channel, address AS target FROM acme_targets"


def with_targets(engine: sa.Engine, extra: str = "") -> None:
    with sqlite3.connect(engine.url.database) as conn:
        conn.executescript(TARGETS + extra)


def test_mapped_targets_add_to_the_teams_own_each_once(acme_db: sa.Engine, tmp_path: Path):
    with_targets(acme_db)
    mapping = load_spec(write_spec(tmp_path, {"team_targets": {"sql": TARGETS_SQL}})).sources.sql.inputs
    teams = {team.id: team for team, _ in read_teams(acme_db, team_queries(mapping))}
    before = {team.id: team for team, _ in read_teams(acme_db)}
    berlin, tokyo = teams["team-berlin"], teams["team-tokyo"]
    assert before["team-berlin"].slack_channels == ["#team-berlin"]  # the row's one, a list of one
    # The row's channel first, the table's after it; '#team-berlin' named twice is posted once.
    assert berlin.slack_channels == ["#team-berlin", "#berlin-leads"]
    assert berlin.email_lists == [["cfo@example.org", "ops@example.org"]]
    assert tokyo.slack_channels == ["#tokyo"]
    assert tokyo.email_lists == [sorted(before["team-tokyo"].email_list)]
    others = [t for t in teams.values() if t.id not in ("team-berlin", "team-tokyo")]
    assert others and all(t.targets == [] for t in others)

    verdicts = check_inputs(acme_db, source_pairs(mapping), mapping)
    assert [(v.name, v.mapped, v.problems) for v in verdicts] == [
        ("teams", False, []),
        ("users", False, []),
        ("team_targets", True, []),
    ]
    assert [v.name for v in check_inputs(acme_db, source_pairs({}), {})] == ["teams", "users"]


def test_a_targets_table_missing_a_column_is_named_before_any_team_is_read(acme_db: sa.Engine, tmp_path):
    with_targets(acme_db)
    sql = "SELECT workspace AS team_id, address AS target FROM acme_targets"
    path = write_spec(tmp_path, {"team_targets": {"sql": sql}})
    mapping = load_spec(path).sources.sql.inputs
    verdicts = check_inputs(acme_db, source_pairs(mapping), mapping, path)
    problems = {v.name: v.problems for v in verdicts}
    assert problems["teams"] == [] and len(problems["team_targets"]) == 1
    assert "input 'team_targets': column 'channel' (text) is missing" in problems["team_targets"][0]
    assert "fix sources.sql.inputs.team_targets in" in problems["team_targets"][0]


def test_a_target_of_an_unknown_channel_fails_its_team_only(acme_db: sa.Engine, tmp_path: Path):
    with_targets(acme_db, "INSERT INTO acme_targets VALUES ('team-berlin', 'teams', 'General');")
    mapping = load_spec(write_spec(tmp_path, {"team_targets": {"sql": TARGETS_SQL}})).sources.sql.inputs
    teams = {team.id: (team, members) for team, members in read_teams(acme_db, team_queries(mapping))}
    insights = kind("weekly_insights")
    settings = insights.settings_model.model_validate({})

    def read(queries: Any) -> Any:
        return read_tables(acme_db, queries)

    with pytest.raises(RowContractError) as error:
        team_snapshot(insights, settings, *teams["team-berlin"], WHEN, read)
    assert (
        "team 'team-berlin', input 'team_targets', column 'channel': 'teams', not a delivery channel "
        "(slack or email)" in str(error.value)
    )
    tokyo = team_snapshot(insights, settings, *teams["team-tokyo"], WHEN, read)
    assert tokyo.team.slack_channels == ["#tokyo"]

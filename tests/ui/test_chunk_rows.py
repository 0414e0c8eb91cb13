"""A chunked fan-out's summarize task instance shows one row per team: its usage, its contract,
its error, as if each team had had a task of its own."""

from __future__ import annotations

from datetime import UTC, datetime

from agentjobs.ui.chunk_rows import chunk_rows
from agentjobs.ui.records import AgentRun

WHEN = datetime(2026, 11, 29, 9, tzinfo=UTC)
CHUNK = [{"team": "t1", "period": "2026-11-29"}, {"team": "t2", "period": "2026-11-29"},
         {"team": "t3", "period": "2026-11-29"}]  # fmt: skip


def chunk_run(state: str = "failed") -> AgentRun:
    return AgentRun(job="insights", run_id="r1", task_id="team.summarize", map_index=0,
                    logical_date=WHEN, run_after=WHEN, state=state, try_number=1)  # fmt: skip


def usage(tokens: int) -> dict:
    return {"iterations": 1, "prompt_tokens": tokens, "completion_tokens": 10, "cost_usd": 0.01}


def test_each_team_of_a_chunk_is_its_own_row_with_its_usage_contract_and_error():
    outcomes = {
        "t1": {
            "team": "t1",
            "result": {"items": 3},
            "usage": usage(100),
            "artifact": "/runs/t1",
            "model": "m",
        },
        "t2": {
            "team": "t2",
            "error": "ModelRequestRejected",
            "failure": "400: bad request",
            "usage": usage(50),
        },
        "t3": {"team": "t3", "result": {"items": 2}, "usage": usage(70), "artifact": "/runs/t3"},
    }
    rows = chunk_rows(chunk_run(), CHUNK, outcomes, {"t1": {"sha256": "x"}}, "failed")
    assert rows is not None
    by_team = {row.team: row for row in rows}
    assert [row.team for row in rows] == ["t1", "t2", "t3"]
    assert (by_team["t1"].state, by_team["t1"].contract, by_team["t1"].items) == ("success", "passed", 3)
    assert by_team["t1"].prompt_tokens == 100 and by_team["t1"].artifact_dir == "/runs/t1"
    assert (by_team["t2"].state, by_team["t2"].contract) == ("failed", "not checked")
    assert by_team["t2"].error == "400: bad request"
    # t3's summary was made but failed its check in the chunk's validate.
    assert (by_team["t3"].state, by_team["t3"].contract) == ("success", "failed")
    assert all(row.period == "2026-11-29" and row.map_index == 0 for row in rows)


def test_a_chunk_still_running_shows_its_teams_pending_and_a_single_team_is_not_a_chunk():
    rows = chunk_rows(chunk_run("running"), CHUNK, None, None, None)
    assert rows is not None
    assert [(row.team, row.state, row.contract) for row in rows] == [
        ("t1", "running", "pending"), ("t2", "running", "pending"), ("t3", "running", "pending"),
    ]  # fmt: skip
    assert chunk_rows(chunk_run(), CHUNK[0], None, None, None) is None


def passed(team: str) -> dict:
    return {"team": team, "result": {"items": 1}, "usage": usage(10), "artifact": f"/runs/{team}"}


def failed_at(step: str, team: str, why: str) -> dict:
    return {"team": team, "step": step, "error": "OperationalError", "failure": f"OperationalError: {why}"}


def test_a_team_whose_apply_or_publish_failed_in_its_chunk_names_the_step_and_why():
    from agentjobs.ui.chunk_rows import ChunkStep

    outcomes = {team: passed(team) for team in ("t1", "t2", "t3")}
    validated = {"t1": {"sha256": "a"}, "t2": {"sha256": "b"}, "t3": {"sha256": "c"}}
    steps = [
        ChunkStep("apply", {"t1": {"linked": []}, "t2": failed_at("apply", "t2", "t2's receipts are locked"),
                            "t3": {"linked": []}}, "failed"),
        ChunkStep("publish", {"t1": {"report": {}}, "t3": failed_at("publish", "t3", "another PDF is there")},
                  "failed"),
        ChunkStep("deliver", {"t1": {"sent": 1}}, "success"),
    ]  # fmt: skip
    rows = {
        row.team: row
        for row in chunk_rows(chunk_run("success"), CHUNK, outcomes, validated, "success", steps)
    }
    assert (rows["t1"].failed_step, rows["t1"].error) == (None, None)
    # t2 stopped at apply (so publish and deliver never took it); t3 got as far as publish.
    assert (rows["t2"].failed_step, rows["t2"].error) == (
        "apply",
        "OperationalError: t2's receipts are locked",
    )
    assert (rows["t3"].failed_step, rows["t3"].error) == ("publish", "OperationalError: another PDF is there")
    # The agent's part went well for all three: their state and contract say so.
    assert {(row.state, row.contract) for row in rows.values()} == {("success", "passed")}


def test_a_failed_validate_or_a_chunk_task_that_died_before_naming_its_teams_is_each_teams_failure():
    from agentjobs.ui.chunk_rows import ChunkStep

    outcomes = {team: passed(team) for team in ("t1", "t2", "t3")}
    validated = {"t1": {"sha256": "a"}, "t2": failed_at("validate", "t2", "items 5 is not 2"), "t3": {}}
    died = ChunkStep("apply", None, "failed", "OperationalError: database is locked")
    rows = {
        row.team: row for row in chunk_run_rows(outcomes, validated, [died, ChunkStep("deliver", None, None)])
    }
    assert (rows["t2"].contract, rows["t2"].failed_step, rows["t2"].error) == (
        "failed", "validate", "OperationalError: items 5 is not 2",
    )  # fmt: skip
    for team in ("t1", "t3"):
        assert (rows[team].contract, rows[team].failed_step) == ("passed", "apply")
        assert rows[team].error == "OperationalError: database is locked"
    # Steps not run yet (apply still queued): nothing failed so far.
    waiting = [ChunkStep("apply", None, "queued"), ChunkStep("deliver", None, None)]
    assert {row.failed_step for row in chunk_run_rows(outcomes, validated, waiting) if row.team != "t2"} == {
        None
    }


def chunk_run_rows(outcomes: dict, validated: dict, steps: list) -> list:
    rows = chunk_rows(chunk_run("success"), CHUNK, outcomes, validated, "failed", steps)
    assert rows is not None
    return rows

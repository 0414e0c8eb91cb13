"""The UI's rows as plain data: the contract's status, the usage read from a try's XCom, the daily totals."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from agentjobs.ui.records import AgentRun, Delivery, contract_status, daily_usage, usage_fields


def run(
    job: str, when: datetime, *, logical: bool = True, tokens: tuple[int, int] = (0, 0), cost: float = 0.0
):
    return AgentRun(
        job=job,
        run_id=f"manual__{when.isoformat()}",
        task_id="summarize",
        map_index=-1,
        logical_date=when if logical else None,
        run_after=when,
        state="success",
        try_number=1,
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        cost_usd=cost,
    )


@pytest.mark.parametrize(
    ("validate_state", "agent_state", "shown"),
    [
        ("success", "success", "passed"),
        ("failed", "success", "failed"),
        ("upstream_failed", "failed", "not checked"),
        ("skipped", "success", "not checked"),
        (None, "failed", "not checked"),  # the agent failed before validate existed to run
        (None, "upstream_failed", "not checked"),
        (None, "running", "pending"),
        ("queued", "success", "pending"),  # validate is still to run
    ],
)
def test_the_contract_column_reads_the_validate_tasks_state(validate_state, agent_state, shown):
    assert contract_status(validate_state, agent_state) == shown


def test_a_successful_try_pushes_the_usage_itself():
    pushed = {"iterations": 3, "prompt_tokens": "120", "completion_tokens": 40, "cost_usd": 0.0021}
    assert usage_fields(pushed) == {
        "iterations": 3,
        "prompt_tokens": 120,
        "completion_tokens": 40,
        "cost_usd": 0.0021,
    }


def test_a_failed_try_pushes_the_payload_whose_usage_model_and_error_are_all_read():
    pushed = {
        "usage": {"iterations": 2, "prompt_tokens": 90, "completion_tokens": None},
        "model": "gpt-4o-mini",
        "error": "ModelRequestError: HTTP 401",
    }
    assert usage_fields(pushed) == {
        "iterations": 2,
        "prompt_tokens": 90,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "model": "gpt-4o-mini",
        "error": "ModelRequestError: HTTP 401",
    }


@pytest.mark.parametrize("pushed", [None, "usage", [1, 2], 7])
def test_an_xcom_that_is_no_usage_fills_nothing(pushed):
    assert usage_fields(pushed) == {}


def test_daily_totals_are_per_job_per_day_newest_day_first():
    day1, day2 = datetime(2026, 11, 23, 3, tzinfo=UTC), datetime(2026, 11, 24, 3, tzinfo=UTC)
    runs = [
        run("weekly", day1, tokens=(10, 5), cost=0.1),
        run("digest", day1, tokens=(100, 20), cost=0.0000004),
        run("digest", day1, tokens=(1, 1), cost=0.0000004),
        run("digest", day2, tokens=(7, 3)),
    ]
    rows = [(u.day, u.job, u.tokens, u.cost_usd, u.runs) for u in daily_usage(runs)]
    assert rows == [
        (date(2026, 11, 24), "digest", 10, 0.0, 1),
        (date(2026, 11, 23), "digest", 122, 0.000001, 2),  # rounded to the micro-dollar
        (date(2026, 11, 23), "weekly", 15, 0.1, 1),
    ]
    assert daily_usage([]) == []


def test_a_run_without_a_logical_date_counts_on_the_day_it_ran():
    ran = datetime(2026, 11, 25, 23, 59, tzinfo=UTC)
    manual = run("digest", ran, logical=False)
    assert manual.day == date(2026, 11, 25)
    data = manual.as_json()
    assert data["day"] == "2026-11-25" and data["logical_date"] is None
    assert data["run_after"] == "2026-11-25T23:59:00+00:00"


def test_the_json_of_a_run_carries_its_deliveries_with_iso_times():
    when = datetime(2026, 11, 24, 3, tzinfo=UTC)
    delivered = run("digest", when)
    delivered.deliveries = [Delivery("email", "team@example.org", "sent", 2, when)]
    (delivery,) = delivered.as_json()["deliveries"]
    assert delivery == {
        "channel": "email",
        "target": "team@example.org",
        "status": "sent",
        "attempts": 2,
        "at": "2026-11-24T03:00:00+00:00",
    }


def test_a_failed_over_run_says_which_connection_answered_and_why_it_moved():
    move = {"from": "llm_main", "to": "llm_backup", "model": "m2", "reason": "server_error: HTTP 503"}
    pushed = {"iterations": 1, "answered_by": "llm_backup", "failovers": [move, "not a move"]}
    fields = usage_fields(pushed)
    assert fields["answered_by"] == "llm_backup" and fields["failovers"] == [move]

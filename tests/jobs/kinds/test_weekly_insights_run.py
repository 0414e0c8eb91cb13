"""weekly_insights at run time: the snapshot's rows as the team's local weeks (the renderer, the
check and the tools read them; their tests are in test_weekly_insights.py, through the kind)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from agentjobs.jobs.kinds.base import Team
from agentjobs.jobs.kinds.weekly_insights_run import Weeks
from tests.jobs.kinds.test_weekly_insights import BERLIN, KIND, SETTINGS, render, snapshot


def test_rows_fall_in_the_teams_local_weeks() -> None:
    # Tokyo's Sunday 00:30 is Saturday 15:30 UTC: it still belongs to the Tokyo week it starts.
    tokyo = Team(id="team-tokyo", name="Tokyo", timezone="Asia/Tokyo", currency="JPY")
    run = datetime(2026, 11, 29, 0, tzinfo=UTC)
    weeks = Weeks(snapshot(tokyo, {("expense", "software"): [7000, 5000, 0, 0, 1000]}, run), 4)
    assert weeks.values["spend:software"] == [7000, 5000, 0, 0, 1000]
    assert weeks.values["transactions"] == [2, 2, 0, 0, 2]
    assert weeks.dates("2_weeks_ago") == (date(2026, 11, 8), date(2026, 11, 14))


def test_null_amounts_and_categories_are_left_out_of_totals_and_an_unknown_currency_is_named() -> None:
    clean = snapshot()
    tables = {"transactions": [dict(r) for r in clean.tables["transactions"]]}
    when = tables["transactions"][0]["occurred_at"]  # in the week reported
    tables["transactions"] += [
        {"id": "ocr-1", "occurred_at": when, "kind": "expense", "category": "travel",
         "amount_cents": None, "currency": "EUR"},
        {"id": "imp-1", "occurred_at": when, "kind": "expense", "category": None,
         "amount_cents": 700, "currency": None},
    ]  # fmt: skip
    snap = clean.model_copy(update={"tables": tables})
    weeks, before = Weeks(snap, SETTINGS.weeks_back), Weeks(clean, SETTINGS.weeks_back)
    # The NULL amount adds nothing; the NULL category is "uncategorized"; both are transactions.
    assert weeks.values["spend:travel"] == before.values["spend:travel"]
    assert weeks.values["spend:uncategorized"][0] == 700
    assert weeks.values["expenses"][0] == before.values["expenses"][0] + 700
    assert weeks.values["transactions"][0] == before.values["transactions"][0] + 2
    markdown, result = render(snap)
    KIND.check(snap, markdown, result, SETTINGS)
    tables["transactions"][-1] = {**tables["transactions"][-1], "currency": "EURO"}
    with pytest.raises(ValueError, match="currency 'EURO' is not an ISO 4217 code"):
        Weeks(clean.model_copy(update={"tables": tables}), SETTINGS.weeks_back)
    team = BERLIN.model_copy(update={"currency": "E"})
    with pytest.raises(ValueError, match="currency 'E' is not an ISO 4217 code"):
        KIND.plan(snapshot(team), SETTINGS, "structured")

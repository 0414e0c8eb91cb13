"""enrichment at run time: a customer the lookup cannot name is refused, never looked up (the
tools, the structured fetch and the check are tested through the kind in test_enrichment.py)."""

from __future__ import annotations

import pytest

from agentjobs.jobs.kinds.base import CheckFailed
from tests.jobs.kinds.test_enrichment import KIND, TEAM, WHEN, record, settings_for


def test_a_customer_without_a_name_is_refused_and_never_looked_up(company_directory):
    from agentjobs.jobs.inputs import check_rows
    from agentjobs.jobs.kinds.base import PeriodRef, Team, TeamSnapshot

    company_directory.answers.update(
        {"Globex GmbH": record(industry="Manufacturing"), "None": record(industry="Not this customer's")}
    )
    settings = settings_for(company_directory)
    team = Team(id=TEAM, name="Team X", timezone="Europe/Berlin", currency="EUR")
    rows = [
        {"id": "c-blank", "name": "  "},
        {"id": "c-good", "name": "Globex GmbH"},
        {"id": "c-null", "name": None},  # what a failed import leaves
    ]
    check_rows(KIND.inputs, {"customers": rows}, TEAM)  # the team is not failed for it
    period = KIND.period(team, WHEN, settings)
    tables = {"customers": rows}
    snapshot = TeamSnapshot(kind=KIND.name, team=team, period=PeriodRef.of(period), tables=tables)

    loop = KIND.plan(snapshot, settings, "loop")
    assert "c-good" in loop.prompt and "c-null" not in loop.prompt and "c-blank" not in loop.prompt
    plan = KIND.plan(snapshot, settings, "structured")
    gathered = plan.collect()
    assert sorted(gathered["records"]) == ["c-good"] and gathered["fetch_refused"] == {}
    assert len(company_directory.requests) == 1 and "None" not in company_directory.requests[0]

    rendered = KIND.render(snapshot, gathered, settings, "Customer enrichment")
    KIND.check(snapshot, rendered.markdown, rendered.result, settings)
    assert [u["customer_id"] for u in rendered.result["updates"]] == ["c-good"]
    reason = "no name in the customers table: nothing to look up"
    assert rendered.result["refused"] == [
        {"customer_id": "c-blank", "reason": reason},
        {"customer_id": "c-null", "reason": reason},
    ]
    assert f"- `c-null` (no name): {reason}" in rendered.markdown
    assert "None" not in rendered.markdown and "1 of 3 customers to enrich" in rendered.markdown
    # A result that leaves the nameless customer out says nothing of it: refused.
    short = {**rendered.result, "refused": rendered.result["refused"][:1]}
    with pytest.raises(CheckFailed, match="says nothing of customer"):
        KIND.check(snapshot, rendered.markdown, short, settings)

"""weekly_insights on Ledgerly, mapped with YAML only: each workspace's planted weekly change (net
spend of a category, refunds lowering it, in the workspace's local Sunday..Saturday week and base
currency) reaches it at its own Sunday 09:00, with the numbers SQL on the raw tables computes and
each amount in its currency's exponent."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agentjobs.jobs import numbers
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import respond
from tests.jobs.business import on_the_teams_clock, team_states
from tests.jobs.specs import sqlite_ledger
from tests.scenarios.ledgerly.conftest import ledgerly_spec, ledgerly_teams, query, serving_instant
from tests.scenarios.test_weekly_insights import top_three_from_the_data

pytestmark = pytest.mark.airflow

NET_SPEND = """SELECT -COALESCE(SUM(t.amount_minor), 0) FROM transactions t
    JOIN bank_accounts a ON a.id = t.account_id JOIN workspaces w ON w.id = a.workspace_id
    WHERE a.workspace_id = CAST(:ws AS uuid) AND t.currency = w.base_currency AND t.category = :category
    AND (t.booked_at AT TIME ZONE w.timezone)::date BETWEEN :first AND :last"""


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD", "NZD"])
def test_the_planted_change_reaches_its_workspace_at_its_own_sunday_nine(
    currency,
    ledgerly_db,
    ledgerly_conn,
    llm_conn,
    model_server,
    smtp_server,
    slack_server,
    monkeypatch,
    tmp_path,
):
    from agentjobs.operators.factory import build_dag

    change = next(c for c in ledgerly_db.truth.weekly_changes if c.currency == currency)
    spec = ledgerly_spec(
        "weekly-insights.yaml",
        llm_conn,
        team_delivery={"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": True},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    team, members = next(p for p in ledgerly_teams(spec) if p[0].id == change.workspace_id)
    when = serving_instant(spec, team, change.week_end)
    assert when.astimezone(ZoneInfo(team.timezone)).strftime("%a %H") == "Sun 09"
    model_server.default_step = respond(top_three_from_the_data)
    run = run_dag(build_dag(spec), logical_date=when)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    assert xcom(run, "fetch") == [{"team": team.id, "period": change.week_end.isoformat()}]

    text = Path(xcom(run, "team.validate")["artifact"]).read_text()
    # The week's and the previous week's net spend, by SQL on the raw tables, are the planted ones.
    week = {"first": change.week_end - timedelta(days=6), "last": change.week_end}
    before = {k: v - timedelta(days=7) for k, v in week.items()}
    args = {"ws": team.id, "category": change.category}
    ((now,),) = query(ledgerly_db.engine, NET_SPEND, **args, **week)
    ((then,),) = query(ledgerly_db.engine, NET_SPEND, **args, **before)
    assert (then, now) == (change.previous_total_minor, change.total_minor)
    category = change.category.replace("_", " ")
    assert re.search(rf"\*\*[^*]*{category}[^*]*\*\*", text, flags=re.I), text
    assert f"{change.change_pct:.1f}" in text, text
    assert numbers.format_amount(now, currency) in text, text
    # Members with an address whose own clock says Sunday 09:00 too (no zone: the workspace's) get
    # the preview now; one without an address gets nothing and fails nothing.
    to = sorted(r for m in smtp_server.messages for r in m.rcpt_tos)
    expected = [m.email for m in on_the_teams_clock(team, members, when) if m.email] + list(team.email_list)
    assert to == sorted(expected)

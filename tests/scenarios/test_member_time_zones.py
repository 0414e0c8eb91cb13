"""weekly_insights and batch_notifications end to end with dag.test(): each member's e-mail on the
member's own clock (a half-hour zone, one across the date line, one without a zone: the team's,
Tokyo in a New York team on a Monday in UTC), the team's channel at the team's hour, every target
once whatever the reruns, and an hour nobody is due at a run that asks and sends nothing."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.business import BUSINESS_CONN, shipped_spec, team_states
from tests.jobs.specs import sqlite_ledger

pytestmark = pytest.mark.airflow

TEAM = "team-berlin"
SUNDAY = datetime(2026, 11, 29)  # the team's Sunday: its week is Sun 22 .. Sat 28 November, Berlin time
# The NULL member's zone is stored as '' and read as NULL through the spec's mapping of `users`,
# as a real users table without a zone would give it.
USERS_SQL = "SELECT id, team_id, name, email, NULLIF(timezone, '') AS timezone FROM users"
WINDOW = datetime(2026, 11, 30, 10, 10)  # a batch window's close (UTC) with one receipt matched before it
MEMBERS = {  # email -> zone (None: the team's Europe/Berlin)
    "priya@example.org": "Asia/Kolkata",
    "aroha@example.org": "Pacific/Auckland",
    "nozone@example.org": None,
}


NEW_YORK_MEMBERS = {  # a New York team's: Tokyo's Monday 09:00 is Monday 00:00 UTC
    "hanako@example.org": "Asia/Tokyo",
    "maria@example.org": "America/Los_Angeles",
    "nozone@example.org": None,
}


def build_db(
    path: Path, zone: str = "Europe/Berlin", members: dict[str, str | None] = MEMBERS, currency: str = "EUR"
) -> str:
    """One team (TEAM, named after its zone's city) with a member in each zone of `members` and two
    weeks of transactions."""
    from agentjobs.business import schema

    engine = sa.create_engine(f"sqlite:///{path}")
    schema.metadata.create_all(engine)
    name = zone.split("/")[-1].replace("_", " ")
    with engine.begin() as conn:
        conn.execute(
            schema.teams.insert(),
            [{"id": TEAM, "name": name, "timezone": zone, "currency": currency,
              "slack_channel": "#team"}],
        )  # fmt: skip
        conn.execute(
            schema.users.insert(),
            [
                {"id": f"u-{n}", "team_id": TEAM, "name": address.split("@")[0].capitalize(),
                 "email": address, "timezone": zone or ""}
                for n, (address, zone) in enumerate(members.items())
            ],
        )  # fmt: skip
        rows = []
        for week, (travel, sales) in enumerate([(40_000, 90_000), (12_000, 100_000)]):
            day = SUNDAY - timedelta(
                days=3 + 7 * week
            )  # a Thursday of the week reported, then the one before
            rows += [
                {"id": f"t-{week}-1", "team_id": TEAM, "occurred_at": day, "kind": "expense",
                 "category": "travel", "amount_cents": travel, "currency": currency, "description": "train"},
                {"id": f"t-{week}-2", "team_id": TEAM, "occurred_at": day, "kind": "income",
                 "category": "sales", "amount_cents": sales, "currency": currency, "description": "invoice"},
            ]  # fmt: skip
        conn.execute(schema.transactions.insert(), rows)
        conn.execute(
            schema.events.insert(),
            [{"id": 1, "team_id": TEAM, "occurred_at": WINDOW - timedelta(minutes=3),
              "category": "receipt_matched", "record_id": "rcpt-1"}],
        )  # fmt: skip
    engine.dispose()
    return json.dumps({"conn_type": "sqlite", "host": str(path)})


def top_two(request):
    prompt = request.body["messages"][-1]["content"]
    metrics = re.findall(r"^- metric: (\S+) \|", prompt, flags=re.M)[:3]
    return reply(json.dumps({"findings": [{"metric": m, "comment": "Worth a look"} for m in metrics]}))


def mails(smtp_server) -> list[tuple[str, str, str]]:
    """(recipient, subject, plain text) of every mail so far."""
    found = []
    for m in smtp_server.messages:
        parsed = email.message_from_bytes(m.content, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain", "html"))
        found.append((",".join(m.rcpt_tos), str(parsed["subject"]), body.get_content() if body else ""))
    return found


def forget_runs(dag) -> None:
    """A clear of every run: the DagRuns go, the files and the ledger stay."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()


def spec_of(kind_file, llm_conn, smtp_server, slack_server, monkeypatch, tmp_path, db=None, **update):
    monkeypatch.setenv(f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}", build_db(tmp_path / "team.db", **(db or {})))
    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": smtp_server.conn_id}
    return shipped_spec(
        kind_file,
        llm_conn,
        BUSINESS_CONN,
        sources={"sql": {"conn_id": BUSINESS_CONN, "inputs": {"users": {"sql": USERS_SQL}}}},
        team_delivery={**delivery, "member_preview": True},
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
        **update,
    )


def test_each_member_gets_the_insights_once_at_their_own_nine_and_the_channel_once_at_the_teams(
    llm_conn, smtp_server, slack_server, model_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    # The shipped spec as it is: members on their own clock is its default.
    spec = spec_of("weekly-insights.yaml", llm_conn, smtp_server, slack_server, monkeypatch, tmp_path)
    model_server.default_step = respond(top_two)
    dag = build_dag(spec)
    berlin = ZoneInfo("Europe/Berlin")
    # The hours where a member's or the team's clock says 09:00 (the kind's unit tests walk all 48
    # of the weekend): Aroha's own Sunday 09:00 (Saturday 20:00 UTC) comes before Berlin's week is
    # over, so it sends nothing; Priya at 09:30 Kolkata, the team and the member without a zone at
    # 09:00 Berlin, Aroha at her Monday 09:00.
    hours = [datetime(2026, 11, 28, 20, tzinfo=UTC)] + [
        datetime(2026, 11, 29, h, tzinfo=UTC) for h in (4, 8, 20)
    ]
    sent_at: dict[str, datetime] = {}
    posts_at: list[datetime] = []
    for when in hours:
        before, posts = len(smtp_server.messages), len(slack_server.server.calls("/api/chat.postMessage"))
        run = run_dag(dag, logical_date=when)
        assert "failed" not in team_states(run).values(), (when, team_states(run))
        for to, _subject, _text in mails(smtp_server)[before:]:
            assert to not in sent_at, f"{to} mailed twice: {sent_at[to]} and {when}"
            sent_at[to] = when
        posts_at += [when] * (len(slack_server.server.calls("/api/chat.postMessage")) - posts)

    local = {to: sent_at[to].astimezone(ZoneInfo(MEMBERS[to] or "Europe/Berlin")) for to in sent_at}
    assert {to: t.strftime("%a %H:%M") for to, t in local.items()} == {
        "priya@example.org": "Sun 09:30",  # Kolkata: a half-hour zone, its hourly run lands at 09:30
        "nozone@example.org": "Sun 09:00",  # no zone: the team's Berlin
        "aroha@example.org": "Mon 09:00",  # Auckland, across the date line
    }
    assert [t.astimezone(berlin).strftime("%a %H:%M") for t in posts_at] == ["Sun 09:00"]
    # The model is asked once for the week (at Priya's hour); every line is cut from the artifact
    # the channel got at the team's hour.
    assert model_server.calls == 1
    assert {subject for _, subject, _ in mails(smtp_server)} == {"Weekly insights — Berlin, 2026-11-28"}
    (line,) = {text.strip() for _, _, text in mails(smtp_server)}
    (post,) = [str(req.params) for req in slack_server.server.calls("/api/chat.postMessage")]
    assert "this week vs" in line and line.split(":")[0] in post

    # A clear of every hour that sent something, run again: nothing twice, no new model call.
    forget_runs(dag)
    for when in sorted({*sent_at.values(), *posts_at}):
        run = run_dag(dag, logical_date=when)
        assert set(team_states(run).values()) == {"success"}, (when, team_states(run))
    assert len(smtp_server.messages) == len(MEMBERS)
    assert len(slack_server.server.calls("/api/chat.postMessage")) == 1
    assert model_server.calls == 1


def test_tokyo_in_a_new_york_team_gets_hers_at_her_monday_nine_and_nobody_gets_two(
    llm_conn, smtp_server, slack_server, model_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    db = {"zone": "America/New_York", "members": NEW_YORK_MEMBERS, "currency": "USD"}
    spec = spec_of("weekly-insights.yaml", llm_conn, smtp_server, slack_server, monkeypatch, tmp_path, db)
    model_server.default_step = respond(top_two)
    dag = build_dag(spec)
    # The weekend's hours where someone's clock says 09:00, and the Monday hours (UTC) around
    # Hanako's: Tokyo's Sunday 09:00 (Sunday 00:00 UTC) comes before the New York week is over and
    # sends nothing; the team and the member without a zone at 09:00 New York (14:00 UTC), Maria
    # at 09:00 Los Angeles, Hanako at her Monday 09:00 (Monday 00:00 UTC), nobody at 01:00.
    hours = [
        datetime(2026, 11, 29, 0, tzinfo=UTC),
        datetime(2026, 11, 29, 14, tzinfo=UTC),
        datetime(2026, 11, 29, 17, tzinfo=UTC),
        datetime(2026, 11, 30, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 1, tzinfo=UTC),
    ]
    sent_at: dict[str, datetime] = {}
    posts_at: list[datetime] = []
    served: dict[datetime, list] = {}
    for when in hours:
        before, posts = len(smtp_server.messages), len(slack_server.server.calls("/api/chat.postMessage"))
        calls = model_server.calls
        run = run_dag(dag, logical_date=when)
        assert "failed" not in team_states(run).values(), (when, team_states(run))
        served[when] = xcom(run, "fetch")
        for to, _subject, _text in mails(smtp_server)[before:]:
            assert to not in sent_at, f"{to} mailed twice: {sent_at[to]} and {when}"
            sent_at[to] = when
        posts_at += [when] * (len(slack_server.server.calls("/api/chat.postMessage")) - posts)
        if not served[when]:  # a run nobody is due at: no model call, nothing sent
            assert (model_server.calls, len(smtp_server.messages)) == (calls, before), when

    new_york = ZoneInfo("America/New_York")
    local = {
        to: sent_at[to].astimezone(ZoneInfo(NEW_YORK_MEMBERS[to] or "America/New_York")) for to in sent_at
    }
    assert {to: t.strftime("%a %d %H:%M") for to, t in local.items()} == {
        "nozone@example.org": "Sun 29 09:00",  # no zone: the team's New York
        "maria@example.org": "Sun 29 09:00",  # Los Angeles
        "hanako@example.org": "Mon 30 09:00",  # Tokyo: Monday 00:00 UTC, a run of the schedule's Mondays
    }
    assert [t.astimezone(new_york).strftime("%a %H:%M") for t in posts_at] == ["Sun 09:00"]
    # Tokyo's Sunday 09:00 and Monday 01:00 UTC: no list of teams, the fetch skipped the rest.
    assert served[hours[0]] is None and served[hours[-1]] is None
    assert model_server.calls == 1  # the week's one artifact, at the team's hour
    assert {subject for _, subject, _ in mails(smtp_server)} == {"Weekly insights — New York, 2026-11-28"}

    # A clear and rerun of the whole weekend, Mondays too: nothing twice, no new model call.
    forget_runs(dag)
    for when in hours:
        run = run_dag(dag, logical_date=when)
        assert "failed" not in team_states(run).values(), (when, team_states(run))
    assert len(smtp_server.messages) == len(NEW_YORK_MEMBERS)
    assert len(slack_server.server.calls("/api/chat.postMessage")) == 1
    assert model_server.calls == 1


def test_turning_member_local_time_on_mid_week_sends_nobody_a_second_mail(
    llm_conn, smtp_server, slack_server, model_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    db = {"zone": "America/New_York", "members": NEW_YORK_MEMBERS, "currency": "USD"}
    off = spec_of(
        "weekly-insights.yaml",
        llm_conn,
        smtp_server,
        slack_server,
        monkeypatch,
        tmp_path,
        db,
        weekly_insights={"local_hour": 9, "member_local_time": False},
    )
    model_server.default_step = respond(top_two)
    run = run_dag(build_dag(off), logical_date=datetime(2026, 11, 29, 14, tzinfo=UTC))  # 09:00 New York
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    assert sorted(to for to, _, _ in mails(smtp_server)) == sorted(NEW_YORK_MEMBERS)  # all with the team

    # The same job (its ledger, its folder) with the default on: Maria's and Hanako's own 09:00
    # come later the same week, and the ledger's (week, address) rows say they have theirs.
    on = off.with_kind_section({"local_hour": 9})
    assert on.dag_id == off.dag_id and on.kind_settings().member_local_time
    dag = build_dag(on)
    for when in (datetime(2026, 11, 29, 17, tzinfo=UTC), datetime(2026, 11, 30, 0, tzinfo=UTC)):
        run = run_dag(dag, logical_date=when)
        assert set(team_states(run).values()) == {"success"}, (when, team_states(run))
        assert xcom(run, "fetch"), when  # the member's run serves the team's week ...
    assert len(smtp_server.messages) == len(NEW_YORK_MEMBERS)  # ... and sends her nothing again
    assert model_server.calls == 1


def test_each_member_gets_a_batch_window_once_at_its_close_named_in_their_own_time(
    llm_conn, smtp_server, slack_server, model_server, monkeypatch, tmp_path
):
    from agentjobs.operators.factory import build_dag

    spec = spec_of("batch-notifications.yaml", llm_conn, smtp_server, slack_server, monkeypatch, tmp_path)
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=WINDOW.replace(tzinfo=UTC))
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    assert len(slack_server.server.calls("/api/chat.postMessage")) == 1
    # A window is one instant everywhere: every member at its close, titled in their own zone.
    assert sorted((to, subject) for to, subject, _ in mails(smtp_server)) == [
        ("aroha@example.org", "New activity — Berlin, 2026-11-30 23:10 Pacific/Auckland"),
        ("nozone@example.org", "New activity — Berlin, 2026-11-30 11:10 Europe/Berlin"),
        ("priya@example.org", "New activity — Berlin, 2026-11-30 15:40 Asia/Kolkata"),
    ]
    assert {text.strip() for _, _, text in mails(smtp_server)} == {"You have 1 new receipt."}

    # A clear of the window and the next one: nothing is sent twice.
    forget_runs(dag)
    for when in (WINDOW, WINDOW + timedelta(minutes=5)):
        run = run_dag(dag, logical_date=when.replace(tzinfo=UTC))
        assert "failed" not in team_states(run).values(), team_states(run)
    assert len(smtp_server.messages) == len(MEMBERS)
    assert len(slack_server.server.calls("/api/chat.postMessage")) == 1
    assert model_server.calls == 0

"""overdue_reminders end to end with dag.test(), on SQLite and PostgreSQL: a user in Tokyo and one in
Los Angeles each mailed once at their own 09:00 over the US DST change, reruns sending nothing new,
a paid invoice never reminded, a bad address refused."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.jobs.business import BUSINESS_CONN, shipped_spec, team_states
from tests.jobs.kinds.test_overdue_reminders import (  # noqa: F401 (a fixture)
    LA,
    TEAM,
    TOKYO,
    loosen_users,
    reminders_db,
)
from tests.jobs.specs import sqlite_ledger

pytestmark = pytest.mark.airflow


@pytest.fixture
def reminders(llm_conn, reminders_db, smtp_server, monkeypatch, tmp_path):  # noqa: F811
    url = sa.engine.make_url(reminders_db)
    if url.get_backend_name() == "sqlite":
        conn = json.dumps({"conn_type": "sqlite", "host": url.database})
    else:
        conn = f"postgres://postgres@127.0.0.1:5432/{url.database}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}", conn)
    delivery = {"slack_conn_id": None, "smtp_conn_id": smtp_server.conn_id, "member_preview": False}
    spec = shipped_spec(
        "overdue-reminders.yaml",
        llm_conn,
        BUSINESS_CONN,
        team_delivery=delivery,
        start_date="2026-10-01",  # the week before the DST change is in range
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
    )
    return spec, sa.create_engine(reminders_db)


def mails(smtp_server) -> list[tuple[tuple[str, ...], str, str]]:
    """(recipients, subject, plain text) of every mail sent so far."""
    found = []
    for m in smtp_server.messages:
        parsed = email.message_from_bytes(m.content, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain", "html"))
        found.append((tuple(m.rcpt_tos), str(parsed["subject"]), body.get_content() if body else ""))
    return found


def run_at(dag, when: datetime):
    run = run_dag(dag, logical_date=when)
    return run, team_states(run)


def forget_runs(dag) -> None:
    """A clear of the same hour: the DagRun goes, the files and the ledger stay."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()


def test_each_user_is_reminded_once_at_their_own_nine_across_the_dst_change(
    reminders, smtp_server, model_server
):
    from agentjobs.operators.factory import build_dag

    spec, _engine = reminders
    dag = build_dag(spec)

    # Sat 31 Oct 09:00 PDT in Los Angeles is 16:00 UTC: Maria alone, inv-l-soon due in 2 days.
    run, states = run_at(dag, datetime(2026, 10, 31, 16, tzinfo=UTC))
    assert set(states.values()) == {"success"}, states
    assert xcom(run, "fetch") == [{"team": TEAM, "period": "2026-11-01"}]
    sent = mails(smtp_server)
    assert [(to, subject) for to, subject, _ in sent] == [
        (("maria@example.org",), "Invoices to follow up — Maria, 2026-10-31")
    ]
    assert "inv-l-soon" in sent[0][2] and "inv-t-" not in sent[0][2]

    # Sun 1 Nov, the US is back on PST: 16:00 UTC is 08:00 in Los Angeles and serves nobody ...
    run, states = run_at(dag, datetime(2026, 11, 1, 16, tzinfo=UTC))
    assert xcom(run, "fetch") is None and len(smtp_server.messages) == 1
    assert {task: state for (task, _), state in states.items() if task != "fetch"} == {
        "team.summarize": "skipped",
        "team.validate": "skipped",
        "team.deliver": "skipped",
        "alert_on_failure": "skipped",
    }, states
    # ... 17:00 UTC is Maria's 09:00 (and 02:00 on Monday in Tokyo: the team's folder of 2 Nov).
    run, states = run_at(dag, datetime(2026, 11, 1, 17, tzinfo=UTC))
    assert set(states.values()) == {"success"}, states
    assert xcom(run, "fetch") == [{"team": TEAM, "period": "2026-11-02"}]
    assert [(to, subject) for to, subject, _ in mails(smtp_server)[1:]] == [
        (("maria@example.org",), "Invoices to follow up — Maria, 2026-11-01")
    ]

    # Mon 2 Nov 09:00 in Tokyo is 00:00 UTC: Hanako alone, her soon and overdue invoices; the
    # same folder as Maria's hour, read again for this hour.
    run, states = run_at(dag, datetime(2026, 11, 2, 0, tzinfo=UTC))
    assert set(states.values()) == {"success"}, states
    (to, subject, text) = mails(smtp_server)[2]
    assert (to, subject) == (("hanako@example.org",), "Invoices to follow up — Hanako, 2026-11-02")
    assert "inv-t-soon" in text and "inv-t-overdue" in text
    assert "inv-t-paid" not in text and "inv-t-far" not in text and "inv-l-" not in text
    assert model_server.calls == 0  # the list is code's
    assert len(smtp_server.messages) == 3

    # Clears of both hours of that folder, in any order: nothing new is sent.
    forget_runs(dag)
    for when in (datetime(2026, 11, 2, 0, tzinfo=UTC), datetime(2026, 11, 1, 17, tzinfo=UTC)):
        run, states = run_at(dag, when)
        assert set(states.values()) == {"success"}, states
    assert len(smtp_server.messages) == 3


def test_an_invoice_paid_before_the_run_is_not_reminded_and_nothing_due_sends_no_mail(reminders, smtp_server):
    from agentjobs.business import schema
    from agentjobs.operators.factory import build_dag

    spec, engine = reminders
    with engine.begin() as conn:
        conn.execute(
            schema.invoices.update()
            .where(schema.invoices.c.id == "inv-l-soon")
            .values(status="paid", paid_at=datetime(2026, 11, 2, 15))
        )
    # Mon 2 Nov 09:00 PST: inv-l-soon (due today) is paid, inv-l-later is 3 days away: no mail.
    run, states = run_at(build_dag(spec), datetime(2026, 11, 2, 17, tzinfo=UTC))
    assert set(states.values()) == {"success"}, states
    assert xcom(run, "fetch") == [{"team": TEAM, "period": "2026-11-03"}]
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    "address",
    # A trailing newline passed the pattern's `$`: the headers ended after To: and Hanako got raw MIME.
    ["hanako@example.org\r\nBcc: all@example.org", "hanako@example.org\n"],
    ids=["header-injection", "trailing-newline"],
)
def test_an_address_that_is_not_plain_is_refused(reminders, smtp_server, address):
    from agentjobs.business import schema
    from agentjobs.operators.factory import build_dag

    spec, engine = reminders
    with engine.begin() as conn:
        conn.execute(schema.users.update().where(schema.users.c.id == "u-tokyo").values(email=address))
    _run, states = run_at(build_dag(spec), datetime(2026, 11, 2, 0, tzinfo=UTC))
    # The users contract refuses the row at fetch (jobs/inputs.py, check "email"): the team fails at
    # its first task with the reason, before anything is rendered or sent.
    assert states[("team.summarize", 0)] == "failed", states
    assert states[("team.deliver", 0)] != "success", states
    assert smtp_server.messages == []


def test_a_member_without_an_email_is_skipped_and_one_without_a_time_zone_mailed_at_the_teams_nine(
    reminders, smtp_server, capfd
):
    from agentjobs.operators.factory import build_dag

    spec, engine = reminders
    loosen_users(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET email = NULL WHERE id = :id"), {"id": TOKYO})
        conn.execute(sa.text("UPDATE users SET timezone = NULL WHERE id = :id"), {"id": LA})
    # Mon 2 Nov 09:00 in Tokyo, the team's zone: Hanako (no address) and Maria (no zone) are due.
    _run, states = run_at(build_dag(spec), datetime(2026, 11, 2, 0, tzinfo=UTC))
    assert set(states.values()) == {"success"}, states  # Hanako's missing address fails nothing
    sent = mails(smtp_server)
    assert [(to, subject) for to, subject, _ in sent] == [
        (("maria@example.org",), "Invoices to follow up — Maria, 2026-11-02")
    ]
    assert "inv-l-soon" in sent[0][2] and "inv-t-" not in sent[0][2]
    # The skip is a note in the deliver task's log, naming the member.
    note = f"member {TOKYO} has no email address in the users table: no mail sent to them"
    assert note in "".join(capfd.readouterr())

"""Chunked fan-out for kinds with steps between validate and deliver, with dag.test(): enrichment
and reconciliation (apply: writes to the business database) and compliance_report (publish: a
PDF stored once).

In chunks, every team's writes are made and its document stored once, its artifacts are the ones
the per-team graph makes, a team whose apply or publish fails leaves its chunk's neighbours
written and delivered and is named in the alert, and a clear of the run writes, stores and sends
nothing twice."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.directory import record
from tests.fakes.model_server import respond
from tests.jobs.business import shipped_spec, team_states
from tests.jobs.specs import sqlite_ledger
from tests.scenarios.test_compliance_report import pdf_text, pick_from_the_data
from tests.scenarios.test_enrichment import map_the_keys

pytestmark = pytest.mark.airflow

ONCALL = "oncall@example.org"


def forget_runs(dag) -> None:
    """A clear of the run: the DagRun goes; the files, the ledger and the database stay."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()


def sqlite_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, path: Path) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    return conn_id


def team_mail(smtp_server) -> dict[str, list[str]]:
    """Each recipient list (not the on-call's) and the plain bodies it got, in order."""
    got: dict[str, list[str]] = {}
    for sent in smtp_server.messages:
        to = ",".join(sorted(sent.rcpt_tos))
        if to != ONCALL:
            body = email.message_from_bytes(sent.content, policy=email.policy.default)
            got.setdefault(to, []).append(body.get_body(("plain",)).get_content())
    return got


def alert_text(smtp_server) -> str:
    (alert,) = [m for m in smtp_server.messages if m.rcpt_tos == [ONCALL]]
    body = email.message_from_bytes(alert.content, policy=email.policy.default)
    return " ".join(body.get_body(("plain",)).get_content().split())


def chunk_of(run, team_id: str) -> tuple[int, list[str]]:
    """(map index, its teams) of the chunk the fetch task put `team_id` in."""
    for index, chunk in enumerate(xcom(run, "fetch")):
        teams = [team_run["team"] for team_run in chunk]
        if team_id in teams:
            return index, teams
    raise AssertionError(f"{team_id} is in no chunk")


# ------------------------------------------------------------------ enrichment: apply in chunks

BERLIN_SIX = datetime(2026, 11, 30, 5, tzinfo=UTC)  # 06:00 in Berlin: every team's daily run
ENRICH_TEAMS = [f"team-{n}" for n in range(5)]
LOCKED = "team-2"  # the database refuses its customers' update until the lock is lifted


def enrichment_db(path: Path) -> Path:
    """Five Berlin teams, each with a mailing list and two customers the directory knows."""
    from agentjobs.business import schema

    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        schema.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(schema.teams.insert(), [
                {"id": t, "name": t.title(), "timezone": "Europe/Berlin", "currency": "EUR",
                 "email_list": f"{t}@example.org"} for t in ENRICH_TEAMS
            ])  # fmt: skip
            conn.execute(schema.customers.insert(), [
                {"id": f"{t}-c{n}", "team_id": t, "name": company(t, n)} for t in ENRICH_TEAMS for n in (0, 1)
            ])  # fmt: skip
    finally:
        engine.dispose()
    return path


def company(team_id: str, n: int) -> str:
    return f"{team_id.title()} Works {n} GmbH"


def lock(path: Path, locked: bool) -> None:
    """A trigger refusing any update of LOCKED's customers (another writer holding them)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            if locked:
                conn.exec_driver_sql(
                    f"CREATE TRIGGER locked BEFORE UPDATE ON customers WHEN OLD.team_id = '{LOCKED}' "
                    f"BEGIN SELECT RAISE(ABORT, 'the customers of {LOCKED} are locked'); END"
                )
            else:
                conn.exec_driver_sql("DROP TRIGGER locked")
    finally:
        engine.dispose()


def customers(path: Path) -> dict[str, dict[str, Any]]:
    from agentjobs.business import schema

    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return {row.id: dict(row._mapping) for row in conn.execute(sa.select(schema.customers))}
    finally:
        engine.dispose()


def written(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows with `enriched_at` as whether it is set: two databases written at other instants."""
    return {cid: {**row, "enriched_at": row["enriched_at"] is not None} for cid, row in rows.items()}


@pytest.fixture
def enrichment_job(llm_conn, company_directory, smtp_server, monkeypatch, tmp_path):
    for team in ENRICH_TEAMS:
        for n in (0, 1):
            company_directory.answers[company(team, n)] = record(
                name=company(team, n), industry="Manufacturing", country="de", employees=100 + n,
                website=f"https://{team}-{n}.example",
            )  # fmt: skip

    def make(conn_id: str, db: Path, **fan_out: int):
        return shipped_spec(
            "enrichment.yaml",
            llm_conn,
            sqlite_conn(monkeypatch, conn_id, enrichment_db(db)),
            team_delivery={
                "slack_conn_id": None,
                "smtp_conn_id": smtp_server.conn_id,
                "member_preview": False,
            },
            enrichment={"source_url": company_directory.url},
            ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
            alert={"type": "email", "conn_id": smtp_server.conn_id, "to": [ONCALL]},
            **({"fan_out": fan_out} if fan_out else {}),
        )

    return make


def test_enrichment_in_chunks_writes_each_team_once_as_per_team_and_a_locked_team_spares_its_chunk(
    enrichment_job, model_server, smtp_server, tmp_path
):
    from agentjobs.jobs.team_run import team_dir
    from agentjobs.operators.factory import build_dag

    model_server.default_step = respond(map_the_keys)
    # The per-team graph on a database of its own: what the chunks must match.
    per_team_db = tmp_path / "per-team.db"
    per_team = build_dag(enrichment_job("biz_per_team", per_team_db))
    run = run_dag(per_team, logical_date=BERLIN_SIX)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    expected_rows = written(customers(per_team_db))
    assert all(row["enriched_at"] and row["industry"] == "Manufacturing" for row in expected_rows.values())
    expected_mail = team_mail(smtp_server)
    assert sorted(expected_mail) == [f"{t}@example.org" for t in ENRICH_TEAMS]
    smtp_server.messages.clear()
    calls = model_server.calls

    chunked_db = tmp_path / "chunked.db"
    spec = enrichment_job("biz_chunked", chunked_db, chunk_size=2, concurrency=2)
    lock(chunked_db, True)
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=BERLIN_SIX)
    states = team_states(run)
    index, neighbours = chunk_of(run, LOCKED)
    # Five teams in chunks of two: three of each task; only the locked team's chunk's apply failed.
    assert sorted(k for k in states if k[0] == "team.apply") == [("team.apply", i) for i in range(3)]
    assert {k: s for k, s in states.items() if k[0].startswith("team.") and s != "success"} == {
        ("team.apply", index): "failed"
    }, states
    assert states[("team.deliver", index)] == "success" and run.state == "failed"
    assert model_server.calls - calls == len(ENRICH_TEAMS)  # one model call per team, as per team

    # Every team's artifact is the per-team graph's, and every unlocked team's rows are written.
    for team in ENRICH_TEAMS:
        ours = team_dir(spec.dag_id, team, "2026-11-30") / "enrichment.md"
        theirs = team_dir(per_team.dag_id, team, "2026-11-30") / "enrichment.md"
        assert ours.read_text() == theirs.read_text(), team
    rows = customers(chunked_db)
    assert {c: r for c, r in written(rows).items() if not c.startswith(LOCKED)} == {
        c: r for c, r in expected_rows.items() if not c.startswith(LOCKED)
    }
    assert all(rows[f"{LOCKED}-c{n}"]["enriched_at"] is None for n in (0, 1))
    # Its neighbours in the chunk are delivered; the locked team is not (nothing was written).
    mail = team_mail(smtp_server)
    assert sorted(mail) == [f"{t}@example.org" for t in ENRICH_TEAMS if t != LOCKED]
    assert mail == {to: bodies for to, bodies in expected_mail.items() if to != f"{LOCKED}@example.org"}
    assert [t for t in neighbours if t != LOCKED] and all(
        f"{t}@example.org" in mail for t in neighbours if t != LOCKED
    )
    applied = xcom(run, "team.apply", key="teams", map_index=index)
    assert sorted(t for t, o in applied.items() if "error" not in o) == sorted(
        t for t in neighbours if t != LOCKED
    )
    assert applied[LOCKED]["step"] == "apply" and "are locked" in applied[LOCKED]["failure"]
    assert f"1 of {len(neighbours)} teams failed to apply: {LOCKED}:" in alert_text(smtp_server)
    assert "are locked" in alert_text(smtp_server)

    # The lock lifted, a clear of the run: the locked team is written and delivered, nobody else
    # is written, sent or asked twice.
    lock(chunked_db, False)
    sent, calls = len(smtp_server.messages), model_server.calls
    forget_runs(dag)
    again = run_dag(dag, logical_date=BERLIN_SIX)
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    after = customers(chunked_db)
    assert written(after) == expected_rows
    # The teams written before keep their rows as they were, to the instant of the write.
    assert {c: r for c, r in after.items() if not c.startswith(LOCKED)} == {
        c: r for c, r in rows.items() if not c.startswith(LOCKED)
    }
    assert model_server.calls - calls == 1  # the locked team's summary was never applied: asked again
    assert len(smtp_server.messages) == sent + 1
    assert team_mail(smtp_server)[f"{LOCKED}@example.org"] == expected_mail[f"{LOCKED}@example.org"]
    for index in range(3):
        for team, outcome in (xcom(again, "team.apply", key="teams", map_index=index) or {}).items():
            assert outcome["enriched"] == ([] if team != LOCKED else [f"{LOCKED}-c0", f"{LOCKED}-c1"]), team


# ------------------------------------------------------------------ compliance_report: publish in chunks

NOVEMBER_FIRST = datetime(2026, 11, 1, 6, tzinfo=UTC)  # 06:00 on the 1st for every team in UTC
TAKEN = "team-la"  # another document already sits where its PDF goes


def utc_copy(business_db, path: Path) -> Path:
    """The sample database with every team in UTC and on a mailing list: one run serves them all."""
    shutil.copy(business_db.path, path)
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE teams SET timezone = 'UTC', email_list = id || '@example.org'")
    finally:
        engine.dispose()
    return path


@pytest.fixture
def report_job(llm_conn, business_db, smtp_server, monkeypatch, tmp_path):
    conn_id = sqlite_conn(monkeypatch, "biz_utc", utc_copy(business_db, tmp_path / "utc.db"))

    def make(storage: Path, **fan_out: int):
        return shipped_spec(
            "compliance-report.yaml",
            llm_conn,
            conn_id,
            team_delivery={
                "slack_conn_id": None,
                "smtp_conn_id": smtp_server.conn_id,
                "member_preview": False,
            },
            compliance_report={"storage": storage.as_uri()},
            ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
            alert={"type": "email", "conn_id": smtp_server.conn_id, "to": [ONCALL]},
            **({"fan_out": fan_out} if fan_out else {}),
        )

    return make


def stored_pdfs(storage: Path) -> dict[str, bytes]:
    return {pdf.parent.name: pdf.read_bytes() for pdf in sorted(storage.glob("*/*.pdf"))}


def test_compliance_reports_in_chunks_store_each_pdf_once_as_per_team_and_a_taken_name_spares_its_chunk(
    report_job, model_server, smtp_server, tmp_path
):
    from agentjobs.jobs.team_run import team_dir
    from agentjobs.operators.factory import build_dag

    model_server.default_step = respond(pick_from_the_data)
    per_team_store = tmp_path / "per-team-reports"
    per_team = build_dag(report_job(per_team_store))
    run = run_dag(per_team, logical_date=NOVEMBER_FIRST)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    teams = sorted(team_run["team"] for team_run in xcom(run, "fetch"))
    assert len(teams) == 5 and TAKEN in teams
    expected_pdfs = stored_pdfs(per_team_store)
    assert sorted(expected_pdfs) == teams
    # The messages differ only in where their PDF is.
    expected_mail = {
        to: [body.replace(per_team_store.as_uri(), "STORE") for body in bodies]
        for to, bodies in team_mail(smtp_server).items()
    }
    assert sorted(expected_mail) == [f"{t}@example.org" for t in teams]
    smtp_server.messages.clear()

    store = tmp_path / "reports"
    taken = store / TAKEN / f"compliance-report-{TAKEN}-2026-10.pdf"
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"%PDF-1.4 another report")
    spec = report_job(store, chunks=2, concurrency=2)
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=NOVEMBER_FIRST)
    states = team_states(run)
    index, neighbours = chunk_of(run, TAKEN)
    # Five teams in two chunks: the taken name fails its chunk's publish, and nothing else.
    assert sorted(k for k in states if k[0] == "team.publish") == [("team.publish", 0), ("team.publish", 1)]
    assert {k: s for k, s in states.items() if k[0].startswith("team.") and s != "success"} == {
        ("team.publish", index): "failed"
    }, states
    assert states[("team.deliver", index)] == "success" and run.state == "failed"
    assert taken.read_bytes() == b"%PDF-1.4 another report"  # never replaced silently

    # Every other team's PDF and report are the per-team graph's, byte for byte.
    pdfs = stored_pdfs(store)
    assert {t: pdf for t, pdf in pdfs.items() if t != TAKEN} == {
        t: pdf for t, pdf in expected_pdfs.items() if t != TAKEN
    }
    for team in teams:
        ours = team_dir(spec.dag_id, team, "2026-10-31") / "report.md"
        theirs = team_dir(per_team.dag_id, team, "2026-10-31") / "report.md"
        assert ours.read_text() == theirs.read_text(), team
    mail = {
        to: [b.replace(store.as_uri(), "STORE") for b in bodies]
        for to, bodies in team_mail(smtp_server).items()
    }
    assert mail == {to: bodies for to, bodies in expected_mail.items() if to != f"{TAKEN}@example.org"}
    assert [t for t in neighbours if t != TAKEN]  # the chunk had neighbours, and they were delivered
    published = xcom(run, "team.publish", key="teams", map_index=index)
    assert published.pop(TAKEN)["error"] == "ReportNotStored"
    assert sorted(published) == sorted(t for t in neighbours if t != TAKEN)
    for team, handed in published.items():
        assert (
            Path(urlsplit(handed["report"]["uri"]).path)
            == store / team / f"compliance-report-{team}-2026-10.pdf"
        )
    alert = alert_text(smtp_server)
    assert f"1 of {len(neighbours)} teams failed to publish: {TAKEN}: ReportNotStored:" in alert

    # The other document removed, a clear of the run: the team's report is stored and sent; no
    # other is stored, sent or asked for again.
    taken.unlink()
    mtimes = {pdf: pdf.stat().st_mtime_ns for pdf in store.glob("*/*.pdf")}
    sent, calls = len(smtp_server.messages), model_server.calls
    forget_runs(dag)
    again = run_dag(dag, logical_date=NOVEMBER_FIRST)
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert stored_pdfs(store) == expected_pdfs
    assert {pdf: pdf.stat().st_mtime_ns for pdf in mtimes} == mtimes
    assert "Unpaid invoices at month end" in pdf_text(taken.read_bytes())
    assert len(smtp_server.messages) == sent + 1
    assert model_server.calls - calls == 1  # the taken team's report was never sent: asked again
    assert team_mail(smtp_server)[f"{TAKEN}@example.org"] == [
        body.replace("STORE", store.as_uri()) for body in expected_mail[f"{TAKEN}@example.org"]
    ]


# ------------------------------------------------------------------ reconciliation: apply in chunks


@pytest.fixture
def reconcile_job(llm_conn, business_db, smtp_server, monkeypatch, tmp_path):
    """The shipped reconciliation (its review off) on a UTC copy of the sample database of its own."""

    def make(conn_id: str, db: Path, **fan_out: int):
        return shipped_spec(
            "reconciliation.yaml",
            llm_conn,
            sqlite_conn(monkeypatch, conn_id, utc_copy(business_db, db)),
            team_delivery={
                "slack_conn_id": None,
                "smtp_conn_id": smtp_server.conn_id,
                "member_preview": False,
            },
            ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
            alert={"type": "email", "conn_id": smtp_server.conn_id, "to": [ONCALL]},
            **({"fan_out": fan_out} if fan_out else {}),
        )

    return make


def reconciled(path: Path) -> tuple[dict[str, str], dict[str, tuple[str, str | None]]]:
    """(receipt -> its transaction, record -> (outcome, transaction) of the processed-records ledger)."""
    from tests.scenarios.test_reconciliation import book

    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        return book(engine)
    finally:
        engine.dispose()


def applied_by_team(run, chunked: bool) -> dict[str, dict[str, Any]]:
    """Each team's apply outcome: the chunks' `teams` XComs, or each team's task's return value."""
    found: dict[str, dict[str, Any]] = {}
    for index in range(len(xcom(run, "fetch"))):
        if chunked:
            found.update(xcom(run, "team.apply", key="teams", map_index=index) or {})
        else:
            outcome = xcom(run, "team.apply", map_index=index)
            found[outcome["team"]] = outcome
    return found


def test_reconciliation_in_chunks_links_each_teams_receipts_once_as_per_team_and_a_clear_does_nothing_twice(
    reconcile_job, business_db, model_server, smtp_server, tmp_path
):
    from agentjobs.jobs.team_run import team_dir
    from agentjobs.operators.factory import build_dag
    from tests.jobs.business import serving_instant
    from tests.scenarios.test_reconciliation import top_candidate

    model_server.default_step = respond(top_candidate)
    untouched = reconciled(utc_copy(business_db, tmp_path / "untouched.db"))
    # The per-team graph on a database of its own: what the chunks must match.
    per_team_db = tmp_path / "per-team.db"
    per_team_spec = reconcile_job("biz_rec_per_team", per_team_db)
    when = serving_instant(per_team_spec, "team-berlin", business_db.truth.last_day)
    run = run_dag(build_dag(per_team_spec), logical_date=when)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    teams = sorted(team_run["team"] for team_run in xcom(run, "fetch"))
    assert len(teams) == 5, teams  # every team of the sample, all on UTC: one run serves them all
    expected = reconciled(per_team_db)
    expected_applied = applied_by_team(run, chunked=False)
    linked = {team: outcome["linked"] for team, outcome in expected_applied.items()}
    assert sorted(linked) == teams and sum(map(len, linked.values())) >= len(teams), linked
    assert expected != untouched and set(expected[1]) - set(untouched[1])  # it judged and linked
    expected_mail = team_mail(smtp_server)
    assert sorted(expected_mail) == [f"{t}@example.org" for t in teams]
    smtp_server.messages.clear()
    calls = model_server.calls

    chunked_db = tmp_path / "chunked.db"
    spec = reconcile_job("biz_rec_chunked", chunked_db, chunks=2, concurrency=2)
    assert spec.kind_settings().review.enabled is False
    dag = build_dag(spec)
    run = run_dag(dag, logical_date=when)
    states = team_states(run)
    assert set(states.values()) == {"success"}, states
    assert sorted(k for k in states if k[0] == "team.apply") == [("team.apply", 0), ("team.apply", 1)]
    assert model_server.calls - calls == len(teams)  # one model call per team, as per team
    # Every team's links and ledger rows are the per-team graph's, written by its chunk's apply.
    assert reconciled(chunked_db) == expected
    applied = applied_by_team(run, chunked=True)
    assert {team: outcome["linked"] for team, outcome in applied.items()} == linked
    assert {team: outcome["recorded"] for team, outcome in applied.items()} == {
        team: outcome["recorded"] for team, outcome in expected_applied.items()
    }
    for team in teams:
        ours = team_dir(spec.dag_id, team, applied[team]["period"]) / "reconciliation.md"
        theirs = team_dir(per_team_spec.dag_id, team, applied[team]["period"]) / "reconciliation.md"
        assert ours.read_text() == theirs.read_text(), team
    assert team_mail(smtp_server) == expected_mail  # each team's message once, the per-team one

    # A clear of the run: nothing asked, linked, recorded or sent again.
    sent, calls = len(smtp_server.messages), model_server.calls
    forget_runs(dag)
    again = run_dag(dag, logical_date=when)
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert reconciled(chunked_db) == expected
    assert len(smtp_server.messages) == sent and model_server.calls == calls
    applied_again = applied_by_team(again, chunked=True)
    assert sorted(applied_again) == teams
    for team, outcome in applied_again.items():
        assert (outcome["linked"], outcome["recorded"]) == ([], []), team
        assert outcome["already"] == sorted(applied[team]["linked"] + applied[team]["recorded"]), team

"""batch_notifications end to end with dag.test(), on SQLite and PostgreSQL: one Slack summary per
team per window that found something, each window delivered once, a late event in the next window,
and a run SIGKILLed between its claim and its delivery losing no event and doubling none."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentjobs.jobs.kinds.batch_notifications import LABELS
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, slow
from tests.jobs.business import BUSINESS_CONN, REPO, shipped_spec, team_states
from tests.jobs.kinds.test_batch_notifications import TEAM, add_events, at, batch_db  # noqa: F401
from tests.jobs.specs import sqlite_ledger

pytestmark = pytest.mark.airflow

# "3 new transactions" -> transaction_created, from the kind's own wording (singular and plural)
CATEGORY_OF = {text: c for c, label in LABELS.items() for text in (label.one, label.many)}
# One bullet a category ("• 3 new transactions: ..."; Slack's blocks write "•" for "-"), never the headline.
COUNT_LINE = re.compile(
    r"^[•-] (\d+) (" + "|".join(sorted(map(re.escape, CATEGORY_OF), key=len, reverse=True)) + ")", re.M
)


def spec_for(llm_conn, batch_db, slack_server, monkeypatch, tmp_path, **section):  # noqa: F811
    url = sa.engine.make_url(batch_db)
    if url.get_backend_name() == "sqlite":
        conn = json.dumps({"conn_type": "sqlite", "host": url.database})
    else:
        conn = f"postgres://postgres@127.0.0.1:5432/{url.database}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{BUSINESS_CONN.upper()}", conn)
    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": None, "member_preview": False}
    return shipped_spec(
        "batch-notifications.yaml",
        llm_conn,
        BUSINESS_CONN,
        team_delivery=delivery,
        ledger_conn_id=sqlite_ledger(monkeypatch, tmp_path),
        batch_notifications=section or None,
    )


def summaries(slack_server) -> list[tuple[str, str]]:
    """(channel, text) of every summary Slack received, in order."""
    found = []
    for req in slack_server.server.calls("/api/chat.postMessage"):
        blocks = req.params.get("blocks")
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        text = "\n".join(
            str(b.get("text", {}).get("text", "")) for b in blocks or [] if isinstance(b.get("text"), dict)
        )
        found.append((str(req.params["channel"]), text))
    return found


def delivered_counts(slack_server) -> Counter[str]:
    """Events per category over every summary delivered (each category line once a summary)."""
    total: Counter[str] = Counter()
    for _channel, text in summaries(slack_server):
        for n, label in COUNT_LINE.findall(text):
            total[CATEGORY_OF[label]] += int(n)
    return total


def sql_counts(url: str, before: datetime) -> Counter[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT category, count(*) FROM events WHERE team_id = :t AND occurred_at < :b GROUP BY 1"
                ),
                {"t": TEAM, "b": before.replace(tzinfo=None)},
            ).all()
    finally:
        engine.dispose()
    return Counter({c: n for c, n in rows})


def forget_runs(dag) -> None:
    """A clear of the same window: the DagRun goes, the files and the ledgers stay."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()


def test_one_summary_per_team_per_window_each_delivered_once_and_a_late_event_in_the_next(
    llm_conn,
    batch_db,  # noqa: F811
    slack_server,
    model_server,
    monkeypatch,
    tmp_path,
):
    from agentjobs.operators.factory import build_dag

    dag = build_dag(spec_for(llm_conn, batch_db, slack_server, monkeypatch, tmp_path))
    run = run_dag(dag, logical_date=at(10, 5))
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    assert xcom(run, "fetch") == [{"team": TEAM, "period": "2026-11-30T1005Z"}]  # team-b: nothing
    run = run_dag(dag, logical_date=at(10, 10))
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    sent = summaries(slack_server)
    assert [channel for channel, _ in sent] == ["#team-a", "#team-a"]  # one a window, never one an event
    assert "You have 1 new receipt." in sent[0][1]
    assert "You have 5 new records: 3 transactions, 1 invoice, 1 document." in sent[1][1]
    assert model_server.calls == 0  # summary: none, the counts are code's

    # A clear of 10:10 sends nothing again; a transaction of 10:05 inserted now is not lost.
    add_events(sa.create_engine(batch_db), [(9, at(10, 5), "transaction_created", "txn-late")])
    forget_runs(dag)
    run_dag(dag, logical_date=at(10, 10))
    assert len(summaries(slack_server)) == 2
    for minute in (15, 20, 25, 30):
        run = run_dag(dag, logical_date=at(10, minute))
        assert run.state == "success", team_states(run)
    sent = summaries(slack_server)
    assert len(sent) == 4  # 10:20 (the late transaction) and 10:30 (the overdue invoice)
    assert "- 1 new transaction: `txn-late`" in sent[2][1].replace("• ", "- ")
    assert "1 invoice now overdue" in sent[3][1]
    run_dag(dag, logical_date=at(11, 0))
    assert delivered_counts(slack_server) == sql_counts(batch_db, at(11, 0))


def run_in_subprocess(spec, when: datetime, tmp_path: Path, artifacts: Path) -> subprocess.Popen:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.model_dump_json(), encoding="utf-8")
    env = {**os.environ, "AGENTJOBS_ARTIFACT_BASE": str(artifacts)}
    artifacts.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.batch_run", str(spec_file), when.isoformat()],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(artifacts / "worker.stderr").open("wb"),  # what a failed worker said, for the assertion
    )


def worker_said(artifacts: Path) -> str:
    return (artifacts / "worker.stderr").read_text(encoding="utf-8", errors="replace")[-3000:]


def test_a_run_killed_between_its_claim_and_its_delivery_loses_no_event_and_doubles_none(
    llm_conn,
    batch_db,  # noqa: F811
    slack_server,
    model_server,
    monkeypatch,
    tmp_path,
):
    """The worker dies while the model writes the 10:10 sentence (its claim committed, nothing
    sent). The retry runs on another worker, without the dead one's files, and a transaction of
    10:05 arrives in between: the retry sends the claimed five, the next window the late one."""
    from agentjobs.operators.factory import build_dag

    spec = spec_for(llm_conn, batch_db, slack_server, monkeypatch, tmp_path, summary="model")
    sentence = reply(json.dumps({"summary": "Most of the new records are transactions."}))
    model_server.script(slow(600, sentence))
    model_server.default_step = sentence
    worker = run_in_subprocess(spec, at(10, 10), tmp_path, tmp_path / "worker-1")
    try:
        deadline = time.monotonic() + 120  # a bound on waiting, not an assertion on time
        while model_server.calls == 0 and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert model_server.calls == 1, (
            f"the worker never asked the model (exit {worker.poll()}): {worker_said(tmp_path / 'worker-1')}"
        )
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait()
    assert summaries(slack_server) == []  # killed before delivering anything

    add_events(sa.create_engine(batch_db), [(9, at(10, 5), "transaction_created", "txn-late")])
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "worker-2"))
    dag = build_dag(spec)
    forget_runs(dag)  # the killed run's DagRun, left running: the retry is a run of the same window
    for when in [at(10, 10) + timedelta(minutes=5 * n) for n in range(11)]:  # 10:10 .. 11:00
        run = run_dag(dag, logical_date=when)
        assert run.state == "success", (when, team_states(run))
    sent = summaries(slack_server)
    assert "You have 6 new records: 3 transactions, 1 invoice, 1 receipt, 1 document." in sent[0][1]
    assert "Most of the new records are transactions." in sent[0][1]
    assert "txn-late" not in sent[0][1] and "txn-late" in sent[1][1]
    # Every event of team-a before 11:00 in exactly one delivered summary: none lost, none twice.
    assert delivered_counts(slack_server) == sql_counts(batch_db, at(11, 0))

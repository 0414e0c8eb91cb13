"""The ledger on SQLite and PostgreSQL: skip when sent, force, crashes, failures, races."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentjobs.delivery.ledger import (
    DeliveryConflict,
    DeliveryError,
    DeliveryLedger,
    DeliveryStateUnknown,
)
from tests.delivery.conftest import PG_URL, set_connection

KEY = {"job": "daily_digest", "logical_date": "2026-11-24", "channel": "slack", "target": "#digest"}


def claim(ledger: DeliveryLedger, *, force: bool = False, run_id: str = "run-1", **overrides):
    return ledger.claim(**{**KEY, **overrides}, run_id=run_id, content_sha256="a" * 64, force=force)


def test_sent_is_skipped(any_ledger):
    first = claim(any_ledger)
    assert first is not None and first.attempt == 1
    any_ledger.mark_sent(first, {"channel": "C1", "ts": "1.0"})

    assert claim(any_ledger, run_id="run-2") is None
    [row] = any_ledger.history(**KEY)
    assert (row.status, row.attempt, row.run_id, row.forced) == ("sent", 1, "run-1", False)
    assert row.receipt == {"channel": "C1", "ts": "1.0"}
    assert row.created_at.tzinfo is not None and row.updated_at >= row.created_at


def test_force_adds_a_new_attempt(any_ledger):
    any_ledger.mark_sent(claim(any_ledger), {"ts": "1.0"})
    again = claim(any_ledger, force=True, run_id="run-2")
    assert again is not None and (again.attempt, again.forced) == (2, True)
    any_ledger.mark_sent(again, {"ts": "2.0"})

    rows = any_ledger.history(**KEY)
    assert [(r.attempt, r.status, r.forced) for r in rows] == [(1, "sent", False), (2, "sent", True)]
    assert any_ledger.last_receipt(**KEY) == {"ts": "2.0"}


def test_row_left_sending_is_unknown(any_ledger):
    claim(any_ledger)  # the worker dies here: sent or not, nobody recorded it
    with pytest.raises(DeliveryStateUnknown) as err:
        claim(any_ledger, run_id="run-2")
    assert "force_redeliver=true" in str(err.value) and "check the target" in str(err.value).lower()
    assert len(any_ledger.history(**KEY)) == 1  # the refused claim wrote nothing

    forced = claim(any_ledger, force=True, run_id="run-2")
    assert forced is not None and forced.attempt == 2


def test_failed_may_be_claimed_again(any_ledger):
    first = claim(any_ledger)
    any_ledger.mark_failed(first, "SMTPServerDisconnected: password=hunter22 rejected")
    second = claim(any_ledger, run_id="run-2")
    assert second is not None and second.attempt == 2
    any_ledger.mark_sent(second, {"message_id": "<x@y>"})

    rows = any_ledger.history(**KEY)
    assert [r.status for r in rows] == ["failed", "sent"]
    assert "hunter22" not in rows[0].error and "SMTPServerDisconnected" in rows[0].error
    assert rows[0].receipt is None


def test_keys_are_separate_and_dates_normalized(any_ledger):
    any_ledger.mark_sent(claim(any_ledger), {})
    assert claim(any_ledger, logical_date=date(2026, 11, 24)) is None
    assert claim(any_ledger, logical_date=datetime(2026, 11, 24, 6, 0)) is None
    assert claim(any_ledger, logical_date="2026-11-25") is not None
    assert claim(any_ledger, target="#other") is not None
    assert claim(any_ledger, channel="email") is not None
    assert len(any_ledger.history(job="daily_digest", logical_date="2026-11-24")) == 3
    assert any_ledger.last_receipt(**{**KEY, "target": "#other"}) is None
    with pytest.raises(ValueError):
        claim(any_ledger, logical_date="24.11.2026")


def test_a_row_is_finished_once(any_ledger):
    first = claim(any_ledger)
    any_ledger.mark_sent(first, {})
    with pytest.raises(DeliveryError, match="no longer 'sending'"):
        any_ledger.mark_failed(first, "late")


@pytest.mark.parametrize("force", [False, True])
def test_concurrent_claims_exactly_one_wins(any_ledger, force):
    if force:
        any_ledger.mark_sent(claim(any_ledger), {})
    # Hold both workers after they read the newest row, so both try to insert the same attempt.
    both_read = threading.Barrier(2, timeout=10)
    newest = any_ledger._newest

    def newest_then_wait(conn, key):
        row = newest(conn, key)
        both_read.wait()
        return row

    any_ledger._newest = newest_then_wait
    results: list[object] = []

    def worker(n: int) -> None:
        try:
            results.append(claim(any_ledger, force=force, run_id=f"run-{n}"))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and winners[0] is not None
    assert len(losers) == 1 and isinstance(losers[0], DeliveryConflict), losers
    assert [r.status for r in any_ledger.history(**KEY)][-1] == "sending"
    assert len(any_ledger.history(**KEY)) == (2 if force else 1)


def test_concurrent_claims_on_postgres_many_keys(pg_ledger):
    """No coordination help: 8 threads, 2 per key, separate connections; one winner per key."""
    keys = [f"#chan-{i}" for i in range(4)]
    start = threading.Barrier(8, timeout=10)
    wins: list[str] = []
    lock = threading.Lock()

    def worker(target: str) -> None:
        start.wait()
        try:
            got = claim(pg_ledger, target=target)
        except (DeliveryConflict, DeliveryStateUnknown):
            return
        with lock:
            wins.append(got.target)

    threads = [threading.Thread(target=worker, args=(k,)) for k in keys for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(wins) == sorted(keys)
    for k in keys:
        assert len(pg_ledger.history(**{**KEY, "target": k})) == 1


def test_table_is_created_once(any_ledger):
    again = DeliveryLedger(any_ledger.engine)  # existing table: nothing to do, nothing lost
    any_ledger.mark_sent(claim(any_ledger), {})
    assert claim(again) is None
    cols = {c["name"] for c in sa.inspect(any_ledger.engine).get_columns("agentjobs_delivery")}
    assert {"job", "logical_date", "channel", "target", "attempt", "status", "run_id"} <= cols
    assert {"content_sha256", "receipt", "forced", "created_at", "updated_at"} <= cols


# -- from_conn_id ----------------------------------------------------------------------------


def test_from_conn_id_none_uses_sqlite_in_airflow_home(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    ledger = DeliveryLedger.from_conn_id(None)
    ledger.mark_sent(claim(ledger), {})
    assert (tmp_path / "agentjobs-ledger.db").exists()
    assert DeliveryLedger.from_conn_id(None).history(**KEY)[0].status == "sent"


def test_from_conn_id_sqlite(tmp_path: Path, monkeypatch):
    db = tmp_path / "conn-ledger.db"
    set_connection(monkeypatch, "ledger_sqlite", {"conn_type": "sqlite", "host": str(db)})
    ledger = DeliveryLedger.from_conn_id("ledger_sqlite")
    ledger.mark_sent(claim(ledger), {"k": 1})
    assert db.exists() and ledger.last_receipt(**KEY) == {"k": 1}


def test_from_conn_id_rejects_other_conn_types(monkeypatch):
    set_connection(monkeypatch, "ledger_http", {"conn_type": "http", "host": "example.invalid"})
    with pytest.raises(ValueError, match="'http'"):
        DeliveryLedger.from_conn_id("ledger_http")


@pytest.fixture
def pg_conn(pg_ledger, monkeypatch):
    """A `postgres` connection whose search_path is a schema of its own (dropped after)."""
    # pg_ledger only proves the server is there (or skips); the ledger under test is separate.
    schema = f"agentjobs_test_{uuid.uuid4().hex[:12]}"
    with pg_ledger.engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    conn_def = {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": 5432,
        "login": "postgres",
        "schema": "test",
        "extra": json.dumps({"sqlalchemy_query": {"options": f"-csearch_path={schema}"}}),
    }
    set_connection(monkeypatch, "ledger_pg", conn_def)
    yield schema
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _check_pg_ledger(schema: str) -> None:
    ledger = DeliveryLedger.from_conn_id("ledger_pg")
    try:
        assert ledger.engine.url.render_as_string().startswith("postgresql")
        ledger.mark_sent(claim(ledger), {"ok": True})
        assert ledger.last_receipt(**KEY) == {"ok": True}
        assert sa.inspect(ledger.engine).has_table("agentjobs_delivery", schema=schema)
    finally:
        ledger.engine.dispose()


def test_from_conn_id_postgres(pg_conn):
    _check_pg_ledger(pg_conn)


def _without_provider_hooks(monkeypatch):
    from airflow.sdk.definitions.connection import Connection
    from airflow.sdk.exceptions import AirflowException

    asked: list[str] = []

    def no_hook(self, *, hook_params=None):
        asked.append(self.conn_type)
        raise AirflowException(f'Unknown hook type "{self.conn_type}"')

    monkeypatch.setattr(Connection, "get_hook", no_hook)
    return asked


def test_from_conn_id_sqlite_without_the_provider(tmp_path: Path, monkeypatch):
    asked = _without_provider_hooks(monkeypatch)
    db = tmp_path / "fallback.db"
    set_connection(monkeypatch, "ledger_sqlite", {"conn_type": "sqlite", "host": str(db)})
    ledger = DeliveryLedger.from_conn_id("ledger_sqlite")
    ledger.mark_sent(claim(ledger), {})
    assert db.exists() and asked == ["sqlite"]


def test_from_conn_id_postgres_without_the_provider(pg_conn, monkeypatch):
    asked = _without_provider_hooks(monkeypatch)
    _check_pg_ledger(pg_conn)
    assert asked == ["postgres"]


def test_a_named_ledger_connection_that_does_not_exist_is_an_error(monkeypatch):
    from agentjobs.delivery.ledger import DeliveryLedger

    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_LEDGER", raising=False)
    with pytest.raises(ValueError, match="'no_such_ledger' does not exist"):
        DeliveryLedger.from_conn_id("no_such_ledger")

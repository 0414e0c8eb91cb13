"""LedgerHook: one engine per ledger connection, shared by the delivery ledger and the run log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentjobs.delivery.ledger import DeliveryLedger
from agentjobs.hooks.ledger import LedgerHook, run_log
from tests.delivery.conftest import set_connection

PASSWORD = "pw-never-logged-7f3a"


def _busy_timeout_ms(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()


def test_the_ledger_and_the_run_log_share_one_engine_per_connection(tmp_path: Path, monkeypatch):
    set_connection(monkeypatch, "ledger_a", {"conn_type": "sqlite", "host": str(tmp_path / "a.db")})
    set_connection(monkeypatch, "ledger_b", {"conn_type": "sqlite", "host": str(tmp_path / "b.db")})
    engine_a = DeliveryLedger.from_conn_id("ledger_a").engine
    assert run_log("ledger_a").engine is engine_a
    assert DeliveryLedger.from_conn_id("ledger_a").engine is engine_a
    assert run_log("ledger_b").engine is not engine_a
    # Both tables landed in the one database the connection names.
    assert {"agentjobs_delivery", "agentjobs_job_runs"} <= set(sa.inspect(engine_a).get_table_names())


def test_without_a_connection_both_share_the_sqlite_file_in_airflow_home(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    engine = run_log(None).engine
    assert DeliveryLedger.from_conn_id(None).engine is engine
    assert Path(engine.url.database) == tmp_path / "agentjobs-ledger.db"
    assert _busy_timeout_ms(engine) == 30_000


def test_a_sqlite_connection_waits_30_s_for_the_lock(tmp_path: Path, monkeypatch):
    # Through the sqlite provider's hook too: concurrent task processes wait instead of failing.
    set_connection(monkeypatch, "ledger_sqlite", {"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    assert _busy_timeout_ms(LedgerHook("ledger_sqlite").get_engine()) == 30_000


def test_an_edited_connection_gets_a_new_engine(tmp_path: Path, monkeypatch):
    set_connection(monkeypatch, "ledger_moved", {"conn_type": "sqlite", "host": str(tmp_path / "old.db")})
    old = LedgerHook("ledger_moved").get_engine()
    set_connection(monkeypatch, "ledger_moved", {"conn_type": "sqlite", "host": str(tmp_path / "new.db")})
    new = LedgerHook("ledger_moved").get_engine()
    assert new is not old and new.url.database == str(tmp_path / "new.db")


def test_the_password_never_appears_in_the_hooks_repr_or_log(
    monkeypatch, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
):
    conn = {"conn_type": "postgres", "host": "127.0.0.1", "login": "ledger", "password": PASSWORD}
    set_connection(monkeypatch, "ledger_secret", conn)
    hook = LedgerHook("ledger_secret")
    with caplog.at_level(logging.DEBUG):
        engine = hook.get_engine()  # builds the engine; connects only on first use
    # Airflow's structlog writes to the process's stdout/stderr, the stdlib loggers to caplog.
    logged = caplog.text + "".join(capfd.readouterr())
    assert "Ledger database for 'ledger_secret'" in logged  # the log line is there ...
    assert PASSWORD not in logged  # ... without the password
    assert PASSWORD not in repr(hook) and PASSWORD not in str(hook)
    assert PASSWORD not in repr(engine) and PASSWORD not in str(engine.url)
    assert engine.url.password == PASSWORD  # the engine itself still has it


def test_a_deployment_default_ledger_serves_every_spec_that_names_none(tmp_path: Path, monkeypatch):
    # docker-compose.yaml sets AGENTJOBS_LEDGER_CONN_ID: workers on several hosts share one ledger
    # although the shipped specs name no ledger_conn_id; a spec's own connection still wins.
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    set_connection(monkeypatch, "shared_ledger", {"conn_type": "sqlite", "host": str(tmp_path / "shared.db")})
    set_connection(monkeypatch, "own_ledger", {"conn_type": "sqlite", "host": str(tmp_path / "own.db")})
    monkeypatch.setenv("AGENTJOBS_LEDGER_CONN_ID", "shared_ledger")
    assert LedgerHook(None).ledger_conn_id == "shared_ledger"
    assert DeliveryLedger.from_conn_id(None).engine.url.database == str(tmp_path / "shared.db")
    assert run_log(None).engine.url.database == str(tmp_path / "shared.db")
    assert LedgerHook("own_ledger").get_engine().url.database == str(tmp_path / "own.db")
    assert not (tmp_path / "home" / "agentjobs-ledger.db").exists()


def test_a_missing_deployment_default_ledger_names_the_variable_to_fix(monkeypatch):
    monkeypatch.setenv("AGENTJOBS_LEDGER_CONN_ID", "no_such_ledger")
    with pytest.raises(ValueError, match="'no_such_ledger' does not exist"):
        LedgerHook(None).get_engine()

"""Whether a job's ledger can split across worker hosts: the executor setting as Airflow 3 writes
it, crossed with where the ledger lives, at parse time (no lookups) and at run time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentjobs.delivery.ledger import DeliveryLedger
from agentjobs.hooks.ledger import LedgerHook, run_log
from agentjobs.hooks.ledger_hosts import (
    LedgerPlace,
    SplitLedgerError,
    env_conn_type,
    executor_names,
    parse_inputs,
    refusal_at_parse,
    split_ledger,
)
from tests.delivery.conftest import set_connection

LOCAL_PATH = "airflow.executors.local_executor.LocalExecutor"
DEFAULT = LedgerPlace(None, "sqlite")
SQLITE_CONN = LedgerPlace("ledger_file", "sqlite")
POSTGRES_CONN = LedgerPlace("ledger_pg", "postgres")
UNKNOWN_CONN = LedgerPlace("ledger_in_metadata_db", None)  # not an env variable: not looked up


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("LocalExecutor", ["LocalExecutor"]),
        (" CeleryExecutor ", ["CeleryExecutor"]),
        ("LocalExecutor, KubernetesExecutor", ["LocalExecutor", "KubernetesExecutor"]),
        (f"fast:{LOCAL_PATH}", [LOCAL_PATH]),
        ("fast:LocalExecutor", ["LocalExecutor"]),
        ("LocalExecutor;team_a=CeleryExecutor,my.Exec", ["LocalExecutor", "CeleryExecutor", "my.Exec"]),
        ("=LocalExecutor", ["LocalExecutor"]),
    ],
)
def test_every_executor_the_setting_names_is_read_whatever_its_form(value, names):
    assert executor_names(value) == names


@pytest.mark.parametrize(
    ("executors", "place", "refused"),
    [
        (["LocalExecutor"], DEFAULT, False),
        ([LOCAL_PATH], SQLITE_CONN, False),
        (["CeleryExecutor"], DEFAULT, True),
        (["KubernetesExecutor"], SQLITE_CONN, True),
        (["LocalExecutor", "CeleryExecutor"], DEFAULT, True),  # a task may be sent to either
        (["my_company.executors.OwnExecutor"], DEFAULT, True),  # unknown: assume it spreads
        (["CeleryExecutor"], POSTGRES_CONN, False),
        (["CeleryExecutor"], UNKNOWN_CONN, False),  # decided when the task looks it up
    ],
)
def test_only_a_sqlite_ledger_under_an_executor_that_spreads_tasks_is_refused(executors, place, refused):
    problem = split_ledger("nightly", place, executors, single_host=False)
    assert (problem is not None) is refused


def test_the_refusal_names_the_job_the_executor_the_ledger_and_the_fix():
    problem = split_ledger("nightly", DEFAULT, ["LocalExecutor", "CeleryExecutor"], single_host=False)
    assert problem is not None and "\n" not in problem
    assert "job 'nightly'" in problem
    assert "the executor CeleryExecutor runs tasks on several hosts" in problem
    assert "$AIRFLOW_HOME/agentjobs-ledger.db" in problem
    assert "set AGENTJOBS_LEDGER_CONN_ID=<a postgres connection every worker reaches>" in problem
    assert "ledger_conn_id in the job's spec" in problem
    assert "AGENTJOBS_LEDGER_SINGLE_HOST=1 if every worker runs on this one host" in problem
    named = split_ledger("nightly", SQLITE_CONN, ["CeleryExecutor"], single_host=False)
    assert named is not None and "the sqlite database of connection 'ledger_file'" in named


def test_a_deployment_that_says_its_workers_share_one_host_is_not_refused():
    assert split_ledger("nightly", DEFAULT, ["CeleryExecutor"], single_host=True) is None


@pytest.mark.parametrize(
    ("value", "conn_type"),
    [
        ("postgresql://u:p@db:5432/ledger", "postgres"),
        ("postgres://db/ledger", "postgres"),
        ("sqlite:////var/ledger.db", "sqlite"),
        ('{"conn_type": "sqlite", "host": "/var/ledger.db"}', "sqlite"),
        ('{"conn_type": "postgres", "host": "db"}', "postgres"),
        ('{"conn_type": ', None),
        ('{"host": "db"}', None),
        ("not a uri", None),
    ],
)
def test_an_env_connections_type_is_read_from_its_uri_or_json(monkeypatch, value, conn_type):
    monkeypatch.setenv("AIRFLOW_CONN_SOME_LEDGER", value)
    assert env_conn_type("some_ledger") == conn_type


def test_a_connection_outside_the_environment_has_no_type_at_parse(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_ELSEWHERE", raising=False)
    assert env_conn_type("elsewhere") is None


def test_parsing_reads_the_executor_and_the_deployments_ledger_from_the_environment(monkeypatch):
    monkeypatch.delenv("AGENTJOBS_LEDGER_CONN_ID", raising=False)
    monkeypatch.delenv("AGENTJOBS_LEDGER_SINGLE_HOST", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    assert refusal_at_parse("nightly", None) is None
    before = parse_inputs()
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    assert "job 'nightly'" in (refusal_at_parse("nightly", None) or "")
    assert parse_inputs() != before  # a changed executor is judged again, not recalled
    monkeypatch.setenv("AIRFLOW_CONN_SHARED", "postgresql://agentjobs@db/ledger")
    monkeypatch.setenv("AGENTJOBS_LEDGER_CONN_ID", "shared")
    assert refusal_at_parse("nightly", None) is None
    monkeypatch.setenv("AIRFLOW_CONN_OWN_FILE", json.dumps({"conn_type": "sqlite", "host": "/x.db"}))
    assert "connection 'own_file'" in (refusal_at_parse("nightly", "own_file") or "")  # the spec's wins
    monkeypatch.setenv("AGENTJOBS_LEDGER_SINGLE_HOST", "1")
    assert refusal_at_parse("nightly", "own_file") is None


def test_a_task_about_to_deliver_through_a_sqlite_ledger_on_a_spreading_executor_fails(
    tmp_path: Path, monkeypatch
):
    # A connection kept in the metadata DB passes the parse: the task looks it up, wherever it is
    # kept, and its type decides before anything is sent.
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("AGENTJOBS_LEDGER_CONN_ID", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    set_connection(monkeypatch, "ledger_file", {"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    for conn_id, named in ((None, "agentjobs-ledger.db"), ("ledger_file", "connection 'ledger_file'")):
        with pytest.raises(SplitLedgerError, match=named):
            LedgerHook(conn_id).get_engine(job="nightly")
        with pytest.raises(SplitLedgerError, match="job 'nightly'"):
            DeliveryLedger.from_conn_id(conn_id, job="nightly")
        # The run log and the alerts' own ledger still work: the alert about this must go out.
        assert run_log(conn_id).engine is LedgerHook(conn_id).get_engine()
    set_connection(monkeypatch, "ledger_pg", {"conn_type": "postgres", "host": "127.0.0.1", "schema": "x"})
    assert LedgerHook("ledger_pg").get_engine(job="nightly").url.drivername.startswith("postgresql")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    assert LedgerHook(None).get_engine(job="nightly").url.database == str(tmp_path / "agentjobs-ledger.db")

"""A job's runs and evaluation reports on the run-file store (moto's S3 on loopback): the runs
`agentjobs eval` replays, listed as they are below the store; the report kept and read back where
the UI page finds it; and a store that refuses a read is an error naming its URL, never "none"."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from agentjobs.hooks.run_file_store import RunFileStore
from agentjobs.hooks.stored_evals import (
    StoreReadError,
    load_stored_evaluations,
    stored_run_folders,
    write_stored_evaluation,
)
from agentjobs.jobs.evaluation import Evaluation, RunRow, Side
from tests.delivery.conftest import _moto_endpoint, s3_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.airflow


@pytest.fixture
def store(s3_server):  # noqa: F811
    return RunFileStore(f"s3://{s3_server.bucket}/runs-{uuid.uuid4().hex[:6]}", s3_server.conn_id)


def _put(s3_server, store: RunFileStore, key: str, body: bytes = b"{}") -> None:  # noqa: F811
    prefix = store.url.split("/", 3)[3]
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=f"{prefix}/{key}", Body=body)


def _evaluation(eval_id: str) -> Evaluation:
    ok = Side(contract_ok=True, items=2, tokens=350)
    return Evaluation(
        eval_id=eval_id,
        job="anomaly_flags",
        llm_conn_id="other",
        created=datetime(2026, 12, 7, 6, 15, tzinfo=UTC),
        rows=[
            RunRow(run="team-a/2026-11-29", team="team-a", period="2026-11-29", delivered=ok, evaluated=ok)
        ],
    )


def test_a_fan_out_job_s_last_runs_per_team_and_nothing_else_below_it(s3_server, store):  # noqa: F811
    for key in (
        "anomaly_flags/team-a/2026-11-20/sources/sql.json",
        "anomaly_flags/team-a/2026-11-21/sources/sql.json",
        "anomaly_flags/team-b/2026-11-21T0900Z/result.json",
        "anomaly_flags/_evals/20261207T061500Z-other.json",
        "anomaly_flags/team-a/notes.txt",
        "other_job/team-c/2026-11-22/sources/sql.json",
    ):
        _put(s3_server, store, key)
    found = stored_run_folders(store, "anomaly_flags", fans_out=True, last_n=1)
    assert [(str(folder), period, team) for folder, period, team in found] == [
        ("anomaly_flags/team-a/2026-11-21", "2026-11-21", "team-a"),
        ("anomaly_flags/team-b/2026-11-21T0900Z", "2026-11-21T0900Z", "team-b"),
    ]
    assert stored_run_folders(store, "no_runs_yet", fans_out=False, last_n=3) == []
    with pytest.raises(ValueError):
        stored_run_folders(store, "../other", fans_out=False, last_n=3)


def test_the_report_is_read_back_where_it_was_written_newest_first(s3_server, store):  # noqa: F811
    assert load_stored_evaluations(store, "anomaly_flags") == ([], [])
    older, newer = _evaluation("20261206T061500Z-other"), _evaluation("20261207T061500Z-other")
    for evaluation in (older, newer):
        written = write_stored_evaluation(store, evaluation)
    assert written == f"{store.url}/anomaly_flags/_evals/20261207T061500Z-other.json"
    _put(s3_server, store, "anomaly_flags/_evals/20261208T000000Z-cut.json", b'{"eval_id": ')
    found, broken = load_stored_evaluations(store, "anomaly_flags")
    assert [e.eval_id for e in found] == [newer.eval_id, older.eval_id]
    assert found[0].totals("evaluated").passed == 1
    assert broken == ["20261208T000000Z-cut.json"]


def test_a_store_that_refuses_a_read_names_its_url_and_is_never_read_as_empty(s3_server):  # noqa: F811
    missing = RunFileStore(f"s3://no-such-bucket-{uuid.uuid4().hex[:6]}/runs", s3_server.conn_id)
    with pytest.raises(StoreReadError, match=rf"could not list {missing.url}/anomaly_flags: .*NoSuchBucket"):
        stored_run_folders(missing, "anomaly_flags", fans_out=False, last_n=3)
    with pytest.raises(StoreReadError, match=rf"could not list {missing.url}/anomaly_flags/_evals"):
        load_stored_evaluations(missing, "anomaly_flags")

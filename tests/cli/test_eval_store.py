"""`agentjobs eval` where the runs live on a run-file store only (moto's S3 on loopback): five runs
of a fan-out job made by `agentjobs run` with `[agentjobs] run_files` set, then evaluated from a
host whose artifact base is empty. The report is the one an evaluation of a local copy of the same
runs makes; the bucket's run objects are as they were (their ETags), the report is the one object
added, where the UI page lists it; a store that refuses the read is an error naming its URL."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import pytest

from tests.cli.helpers import agentjobs, endpoint_env
from tests.conftest import REPO
from tests.delivery.conftest import _moto_endpoint, s3_server  # noqa: F401 (fixtures)
from tests.fakes.model_server import ScriptedModelServer, reply, respond
from tests.ui.conftest import auth_manager  # noqa: F401 (fixture)
from tests.ui.helpers import PREFIX, admin, client

JOB = "anomaly_flags"


def _explain(request):
    schema = request.body["response_format"]["json_schema"]["schema"]["properties"]["explanations"]
    return reply(
        json.dumps({"explanations": {i: "Check it first" for i in schema["required"]}}),
        prompt_tokens=300,
        completion_tokens=50,
    )


def _other(server) -> dict[str, str]:
    conn = {
        "conn_type": "agentjobs_llm",
        "host": server.base_url,
        "password": "sk-other",
        "extra": {"model": "m"},
    }
    return {"AIRFLOW_CONN_OTHER": json.dumps(conn)}


def _objects(s3, prefix: str) -> dict[str, str]:
    """key below the prefix -> ETag, of every object under it."""
    found = s3.client().get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=f"{prefix}/")
    return {o["Key"][len(prefix) + 1 :]: o["ETag"] for page in found for o in page.get("Contents", [])}


def _upload(s3, prefix: str, base: Path) -> None:
    """The job's run folders, as a deployment's tasks leave them on the store (operators/run_files.py
    pushes each run folder to its place below the store's URL)."""
    client = s3.client()
    for path in sorted((base / JOB).rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(base).as_posix()}"
            client.put_object(Bucket=s3.bucket, Key=key, Body=path.read_bytes())


def _comparable(report: dict) -> list[dict]:
    """The rows without the seconds a rerun took (the endpoint's, which vary by the run)."""
    rows = json.loads(json.dumps(report["rows"]))
    for row in rows:
        if row.get("evaluated"):
            row["evaluated"].pop("latency_s")
    return rows


def _store_env(s3, url: str) -> dict[str, str]:
    return {
        "AIRFLOW__AGENTJOBS__RUN_FILES": url,
        "AIRFLOW__AGENTJOBS__RUN_FILES_CONN_ID": s3.conn_id,
        f"AIRFLOW_CONN_{s3.conn_id.upper()}": os.environ[f"AIRFLOW_CONN_{s3.conn_id.upper()}"],
    }


@pytest.mark.airflow
def test_eval_reads_the_runs_from_the_store_and_keeps_only_its_report_there(
    s3_server,  # noqa: F811
    auth_manager,  # noqa: F811
    airflow_db,
    tmp_path,
    monkeypatch,
):
    prefix = f"runs-{uuid.uuid4().hex[:6]}"
    url = f"s3://{s3_server.bucket}/{prefix}"
    store = _store_env(s3_server, url)
    # Five runs (one day of the sample's five teams), on the store only. `agentjobs run` keeps its
    # runs in its --out, so they are put on the store as the tasks' push leaves them.
    local = tmp_path / "local"
    with ScriptedModelServer() as server:
        run = agentjobs("run", JOB, "--out", str(local), env=endpoint_env(server), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    _upload(s3_server, prefix, local)
    before = _objects(s3_server, prefix)
    assert len([k for k in before if k.endswith("/sources/sql.json")]) == 5, sorted(before)
    empty = tmp_path / "empty"
    empty.mkdir()
    with ScriptedModelServer() as other:
        other.default_step = respond(_explain)
        # The local case: the same runs in a local artifact base; then the store's.
        on_disk = agentjobs(
            "eval", JOB, "--runs", "1", "--llm-conn", "other", "--json", "--out", str(local),
            env=_other(other), cwd=tmp_path,
        )  # fmt: skip
        on_store = agentjobs(
            "eval", JOB, "--runs", "1", "--llm-conn", "other", "--json", "--out", str(empty),
            env={**_other(other), **store}, cwd=tmp_path,
        )  # fmt: skip
    assert on_disk.returncode == 0, on_disk.stderr[-3000:]
    assert on_store.returncode == 0, on_store.stderr[-3000:]
    expected, report = json.loads(on_disk.stdout), json.loads(on_store.stdout)
    assert report["totals"]["evaluated"]["runs"] == 5 and report["totals"]["evaluated"]["passed"] == 5
    assert _comparable(report) == _comparable(expected)
    assert report["totals"]["delivered"] == expected["totals"]["delivered"]

    # The report is on the store, where the command says; the runs' objects are untouched and
    # nothing else was added there, nor to the empty local artifact base.
    written = re.search(r"report written to (\S+)", on_store.stderr).group(1)
    key = f"{JOB}/_evals/{report['eval_id']}.json"
    assert written == f"{url}/{key}"
    after = _objects(s3_server, prefix)
    assert {k: v for k, v in after.items() if k != key} == before and key in after
    assert not (empty / JOB).exists()  # the reruns' files went with the command's scratch copy

    # The UI page (the api-server, with the same store configured) lists the evaluation.
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "anomaly-flags.yaml").write_bytes((REPO / "include" / "jobs" / "anomaly-flags.yaml").read_bytes())
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(jobs))
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(empty))
    for name, value in store.items():
        monkeypatch.setenv(name, value)
    data = client(admin()).get(f"{PREFIX}/api/evals/{JOB}").json()
    assert [e["eval_id"] for e in data["evaluations"]] == [report["eval_id"]], data
    assert data["evaluations"][0]["totals"] == report["totals"]


def test_a_store_that_refuses_the_read_is_an_error_naming_its_url(s3_server, tmp_path):  # noqa: F811
    url = f"s3://no-such-bucket-{uuid.uuid4().hex[:6]}/runs"
    with ScriptedModelServer() as other:
        result = agentjobs(
            "eval", JOB, "--llm-conn", "other", "--out", str(tmp_path),
            env={**_other(other), **_store_env(s3_server, url)}, cwd=tmp_path,
        )  # fmt: skip
        assert other.calls == 0
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"could not list {url}/{JOB}" in result.stderr and "NoSuchBucket" in result.stderr
    assert "testing" not in result.stderr  # the connection's key
    assert "no stored runs" not in result.stderr

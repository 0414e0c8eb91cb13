"""Run files on S3 (moto's server on loopback) with dag.test(): runs in which no task finds what
the one before it left on local disk, since each works in a scratch copy of its own, pulled from
the bucket and deleted after (as on hosts without a shared volume). A fan-out run delivers every
team exactly once, the digest's run-level tasks hand over the same way, the ledger's sha256 is
the bucket's artifact's, and a rerun (a clear) asks the model nothing and sends nothing new."""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, respond
from tests.jobs.business import team_states
from tests.jobs.specs import sqlite_ledger
from tests.kinds_plugin.fixtures import SKILLS
from tests.scenarios import digest_job

pytestmark = pytest.mark.airflow
WHEN = datetime(2026, 11, 30, 7, tzinfo=UTC)
job = digest_job.job  # the digest job's fixture: git + RSS sources, email, Slack and S3


def remark(request):
    prompt = request.body["messages"][-1]["content"]
    items = int(prompt.split("had ", 1)[1].split(" ", 1)[0])
    return reply(json.dumps({"items": items, "remark": "A steady day."}))


@pytest.fixture
def on_s3(s3_server, monkeypatch):
    """The run-file store: a prefix of the moto bucket, through the test's aws connection."""
    prefix = f"run-files-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", f"s3://{s3_server.bucket}/{prefix}")
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES_CONN_ID", s3_server.conn_id)
    return prefix


@pytest.fixture
def scratches(monkeypatch):
    """Every scratch folder a task try made, recorded as it is made."""
    from agentjobs.operators import run_files

    made: list[Path] = []
    make = tempfile.mkdtemp

    def mkdtemp(**kwargs):
        made.append(Path(make(**kwargs)))
        return str(made[-1])

    monkeypatch.setattr(run_files.tempfile, "mkdtemp", mkdtemp)
    return made


def bucket_files(s3_server, prefix: str) -> dict[str, bytes]:
    client = s3_server.client()
    found = client.list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{prefix}/").get("Contents", [])
    bodies = {obj["Key"]: client.get_object(Bucket=s3_server.bucket, Key=obj["Key"])["Body"] for obj in found}
    return {key[len(prefix) + 1 :]: body.read() for key, body in bodies.items()}


def test_a_fan_out_run_with_no_shared_disk_delivers_each_team_once_and_a_rerun_nothing(
    installed_kinds,
    llm_conn,
    business_conn,
    business_db,
    model_server,
    smtp_server,
    s3_server,
    on_s3,
    scratches,
    monkeypatch,
    tmp_path,
):
    from agentjobs.delivery.ledger import DeliveryLedger
    from agentjobs.jobs.artifacts import artifact_base
    from agentjobs.jobs.kinds.registry import fan_out_kind
    from agentjobs.jobs.spec import JobSpec
    from agentjobs.operators.factory import build_dag
    from agentjobs.sources.sql import fetch_teams

    spec = JobSpec.model_validate(
        {
            "dag_id": f"team_tally_{uuid.uuid4().hex[:8]}",
            "kind": "team_tally",
            "title": "Team tally",
            "start_date": "2026-11-01",
            "skill": "team-tally",
            "llm_conn_id": llm_conn,
            "retries": 0,
            "sources": {"sql": {"conn_id": business_conn}},
            # The team's list only: a team with none has nowhere to go (done.json says so).
            "team_delivery": {
                "slack_conn_id": None,
                "smtp_conn_id": smtp_server.conn_id,
                "member_preview": False,
            },
            "ledger_conn_id": sqlite_ledger(monkeypatch, tmp_path),
        }
    )
    # Every team is due at this run (the kind's clock is not this test's subject): their tasks run
    # side by side, each in its own team's folder.
    monkeypatch.setattr(type(fan_out_kind("team_tally")), "due", lambda self, team, when, settings: True)
    teams = fetch_teams(business_conn)
    model_server.default_step = respond(remark)
    dag = build_dag(spec, SKILLS)

    run = run_dag(dag, logical_date=WHEN)
    assert set(team_states(run).values()) == {"success"}, team_states(run)
    served = xcom(run, "fetch")
    assert sorted(s["team"] for s in served) == sorted(t.id for t, _ in teams) and len(served) >= 2
    assert model_server.calls == len(served)

    # No task found another's files on disk: each had a scratch copy of its own, gone after it.
    tasks_run = len([ti for ti in run.get_task_instances() if ti.state == "success"])
    assert len(set(scratches)) == len(scratches) >= tasks_run - 1  # the alert task pulls nothing
    assert not any(path.exists() for path in scratches)
    assert not (artifact_base() / spec.dag_id).exists()  # the local artifact base was never used

    # The files are in the bucket, one folder per team; XCom names them there.
    stored = bucket_files(s3_server, on_s3)
    for entry in served:
        folder = f"{spec.dag_id}/{entry['team']}/{entry['period']}"
        for name in ("sources/sql.json", "tally.md", "result.json", "transcript.jsonl", "preview.txt"):
            assert f"{folder}/{name}" in stored, (folder, name, sorted(stored))
    index = {entry["team"]: i for i, entry in enumerate(served)}
    validated = {team: xcom(run, "team.validate", map_index=i) for team, i in index.items()}
    for team, payload in validated.items():
        folder = f"{spec.dag_id}/{team}/{served[index[team]]['period']}"
        assert payload["artifact"] == f"s3://{s3_server.bucket}/{on_s3}/{folder}/tally.md"
        assert payload["sha256"] == hashlib.sha256(stored[f"{folder}/tally.md"]).hexdigest()

    # Every team delivered exactly once, each row the bucket's artifact (the integrity check held
    # on the deliver task's own copy).
    ledger = DeliveryLedger.from_conn_id(spec.ledger_conn_id)
    rows = []
    for entry in served:
        rows += ledger.history(job=f"{spec.dag_id}/{entry['team']}", logical_date=entry["period"])
    assert rows and all(r.status == "sent" and r.attempt == 1 for r in rows), rows
    assert len({(r.job, r.channel, r.target) for r in rows}) == len(rows)
    teams_delivered = {r.job.split("/", 1)[1] for r in rows}
    assert teams_delivered == {t.id for t, _ in teams if t.email_list} and len(teams_delivered) >= 2
    for entry in served:
        if entry["team"] not in teams_delivered:
            assert f"{spec.dag_id}/{entry['team']}/{entry['period']}/done.json" in stored
    mails = len(smtp_server.messages)
    assert mails == len(rows)

    # A clear of the run: every task on a fresh scratch again, kept results from the bucket,
    # no model call, nothing sent again.
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).delete()
    again = run_dag(dag, logical_date=WHEN)
    assert set(team_states(again).values()) == {"success"}, team_states(again)
    assert (model_server.calls, len(smtp_server.messages)) == (len(served), mails)
    assert bucket_files(s3_server, on_s3).keys() == stored.keys()


def test_the_digest_run_level_tasks_hand_over_through_the_bucket_and_a_rerun_sends_nothing(
    job, model_server, smtp_server, s3_server, on_s3, scratches
):
    from agentjobs.jobs.artifacts import artifact_base
    from agentjobs.operators.factory import build_dag
    from tests.scenarios.digest_job import DAY, LOGICAL, rerun, states

    dag = build_dag(job)
    run = run_dag(dag, logical_date=LOGICAL)
    assert set(states(run).values()) == {"success"}, states(run)
    assert len(set(scratches)) == len(scratches) and not any(path.exists() for path in scratches)
    assert not (artifact_base() / job.dag_id).exists()
    folder = f"{job.dag_id}/{DAY.isoformat()}"
    stored = bucket_files(s3_server, on_s3)
    # The two fetch tasks wrote the run folder side by side: each pushed its own snapshot only.
    for name in ("sources/git.json", "sources/rss.json", "digest.md", "result.json", "transcript.jsonl"):
        assert f"{folder}/{name}" in stored, (name, sorted(stored))
    validated = xcom(run, "validate")
    assert validated["artifact"] == f"s3://{s3_server.bucket}/{on_s3}/{folder}/digest.md"
    assert validated["sha256"] == hashlib.sha256(stored[f"{folder}/digest.md"]).hexdigest()
    calls, mails = model_server.calls, len(smtp_server.messages)
    assert (calls, mails) == (1, 1)

    again = rerun(dag)
    assert set(states(again).values()) == {"success"}, states(again)
    assert (model_server.calls, len(smtp_server.messages)) == (calls, mails)
    assert bucket_files(s3_server, on_s3)[f"{folder}/digest.md"] == stored[f"{folder}/digest.md"]

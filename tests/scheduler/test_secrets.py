"""No secret in any alert, task log or XCom: secrets of every kind are planted in an endpoint's
error, in model replies and in tool output of failing runs under the real scheduler; then every
alert delivered, every task log line and every XCom of those runs is searched for them.
"""

from __future__ import annotations

import json
import secrets
import string
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.fakes.model_server import error, reply, tool_call
from tests.scheduler.conftest import SchedulerServices
from tests.scheduler.harness import AirflowCluster
from tests.scheduler.jobs import TODAY, alert_emails, job_spec, logical_date_of, make_sources, unique_id

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(300)]


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
# The secret part of each kind; the text around it is how such a secret shows up in the wild.
CONN_PASSWORD = "Pl4nted." + _random(ALNUM, 18)  # no recognisable shape: only the connection knows it
PLANTED = {
    "openai key": "sk-proj-" + _random(ALNUM, 40),
    "github token": "ghp_" + _random(ALNUM, 36),
    "github pat": "github_pat_" + _random(ALNUM, 60),
    "slack token": "xoxb-" + _random(string.digits, 12) + "-" + _random(ALNUM, 24),
    "aws key id": "AKIA" + _random(string.ascii_uppercase + string.digits, 16),
    "aws secret": _random(ALNUM + "/+", 40),
    "bearer": _random(ALNUM, 32),
    "url password": "pw" + _random(ALNUM, 14),
    "connection password": CONN_PASSWORD,
}
LEAKY_TEXT = (
    f"api key {PLANTED['openai key']}, token {PLANTED['github token']} and {PLANTED['github pat']}, "
    f"slack {PLANTED['slack token']}, aws_access_key_id={PLANTED['aws key id']} "
    f"aws_secret_access_key={PLANTED['aws secret']}, Authorization: Bearer {PLANTED['bearer']}, "
    f"clone https://deploy:{PLANTED['url password']}@git.example.org/acme/app.git"
)


def test_planted_secrets_reach_no_alert_log_or_xcom(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    services, api = scheduler_services, airflow_cluster.api
    days = [TODAY - timedelta(days=n) for n in (24, 23, 22)]
    # This job's endpoint key has no recognisable shape: only the connection knows it is secret.
    conn_id = unique_id("agentjobs_llm_secret")
    base = services.connections[services.llm_conn_id]
    api.create_connection(conn_id, {**base, "password": CONN_PASSWORD})
    # The sources carry secrets too: a feed item quoting them, read by the model through a tool.
    sources = make_sources(tmp_path, days, feed_extra=LEAKY_TEXT.replace("&", "and"))
    structured = airflow_cluster.add_job(
        job_spec(unique_id("sched_secret_s"), services, sources, days[0], conn_id, retry_delay_s=2)
    )
    loop = airflow_cluster.add_job(
        job_spec(
            unique_id("sched_secret_l"), services, sources, days[0], conn_id, mode="loop", retry_delay_s=2
        )
    )
    leaky_answer = json.dumps(
        {"highlights": [{"ref": "not-a-ref", "takeaway": LEAKY_TEXT}], "action_items": []}
    )
    services.reset_model()
    try:
        api.wait_for_dag(structured)
        api.wait_for_dag(loop)
        # 1. An endpoint error echoing the key it was sent, and more (the exception path).
        services.model.script(error(401, f"Incorrect API key provided: {CONN_PASSWORD}. {LEAKY_TEXT}"))
        rejected = api.trigger(structured, logical_date=logical_date_of(days[0]))["dag_run_id"]
        api.wait_for_runs(structured, [rejected], timeout=120, expect="failed")
        # 2. A model reply full of secrets that breaks the contract, twice (quoted in the error).
        services.model.script(reply(leaky_answer), reply(leaky_answer))
        broken = api.trigger(structured, logical_date=logical_date_of(days[1]))["dag_run_id"]
        api.wait_for_runs(structured, [broken], timeout=120, expect="failed")
        # 3. Tool output carrying the feed's secrets, echoed back by the model without a RESULT.
        services.model.script(
            tool_call("read_file", {"path": "sources/rss.json"}),
            reply(f"Found these: {LEAKY_TEXT}"),
            reply(f"Still no RESULT, but: {LEAKY_TEXT}"),
        )
        echoed = api.trigger(loop, logical_date=logical_date_of(days[2]))["dag_run_id"]
        api.wait_for_runs(loop, [echoed], timeout=120, expect="failed")
        requests = list(services.model.requests)
    finally:
        services.reset_model()

    # The planted secrets really went through the runs: the model saw the tool output ...
    assert PLANTED["github token"] in json.dumps(requests[-1].body), "the tool output never reached the model"
    # ... and each run failed and paged someone, with the reason.
    alerts = alert_emails(services, structured) + alert_emails(services, loop)
    assert len(alerts) == 3, [str(m["Subject"]) for m, _ in alerts]
    texts = {f"alert {m['Subject']}": envelope.content.decode("utf-8", "replace") for m, envelope in alerts}
    assert any("401" in text for text in texts.values())
    assert sum("ContractViolation" in text for text in texts.values()) == 2

    for dag_id in (structured, loop):
        folder = airflow_cluster.task_log_dir / f"dag_id={dag_id}"
        logs = sorted(folder.rglob("*.log"))
        assert logs, f"no task logs under {folder}"
        texts.update({f"log {p.relative_to(airflow_cluster.task_log_dir)}": p.read_text() for p in logs})
        texts.update({f"xcom {dag_id} {key}": value for key, value in _xcoms(airflow_cluster, dag_id)})
    assert any(key.startswith("xcom") and "usage" in key for key in texts)

    leaks = [
        f"{kind} in {where}"
        for where, text in texts.items()
        for kind, secret in PLANTED.items()
        if secret in text
    ]
    assert leaks == [], "\n".join(leaks)


def _xcoms(cluster: AirflowCluster, dag_id: str) -> list[tuple[str, str]]:
    """(task_id/key, stored value as text) of every XCom of the DAG, straight from the metadata DB."""
    engine = sa.create_engine(cluster.sql_alchemy_conn)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("select task_id, key, cast(value as text) from xcom where dag_id = :dag_id"),
                {"dag_id": dag_id},
            ).all()
    finally:
        engine.dispose()
    return [(f"{task_id}/{key}", value or "") for task_id, key, value in rows]

"""One channel's delivery task on its own: it sends exactly the digest validate checked, once per
day whatever reruns, again only with `force_redeliver`, and refuses loudly when there is nothing
validated or the file changed."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agentjobs.hooks.ledger_hosts import SplitLedgerError
from agentjobs.jobs.channels.email import EmailChannel
from agentjobs.jobs.spec import JobSpec, load_spec
from agentjobs.operators.deliver import DeliverOperator
from agentjobs.operators.errors import ArtifactChanged
from agentjobs.operators.factory import resolve_paths

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-11-24"


@pytest.fixture
def spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> JobSpec:
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_DELIVER", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    )
    digest = resolve_paths(load_spec(REPO / "include" / "jobs" / "daily-digest.yaml"), REPO)
    return digest.model_copy(update={"ledger_conn_id": "ledger_deliver"})


def validated(tmp_path: Path) -> dict[str, Any]:
    artifact = tmp_path / "digest.md"
    artifact.write_text("# Digest\n\n- Add the fetch step\n")
    sha = hashlib.sha256(artifact.read_bytes()).hexdigest()
    return {"day": DAY, "artifact": str(artifact), "sha256": sha, "items": 1}


def deliver(spec: JobSpec, smtp_server, pushed: dict[str, Any] | None, **params: Any) -> dict[str, Any]:
    channel = EmailChannel(type="email", conn_id=smtp_server.conn_id, to=["team@example.org"])
    operator = DeliverOperator(task_id="deliver_email_0", spec=spec, channel=channel)
    ti = SimpleNamespace(xcom_pull=lambda task_ids: pushed if task_ids == "validate" else None)
    return operator.execute({"ti": ti, "params": params, "run_id": "scheduled__2026-11-25"})


def test_the_validated_digest_goes_out_once_and_again_only_when_forced(spec, smtp_server, tmp_path):
    pushed = validated(tmp_path)
    first = deliver(spec, smtp_server, pushed)
    assert first["delivered"] is True and first["attempt"] == 1
    (mail,) = [email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp_server.messages]
    assert mail["To"] == "team@example.org"
    assert DAY in mail["Subject"] and spec.title in mail["Subject"]
    assert "Add the fetch step" in mail.get_body(("plain",)).get_content()

    again = deliver(spec, smtp_server, pushed)  # a retry, clear or backfill
    assert again["delivered"] is False and len(smtp_server.messages) == 1
    assert again["message"].startswith("skipped: already delivered")

    forced = deliver(spec, smtp_server, pushed, force_redeliver=True)
    assert forced["delivered"] is True and forced["attempt"] == 2 and len(smtp_server.messages) == 2


@pytest.mark.parametrize("pushed", [None, {}])
def test_nothing_validated_is_refused_naming_the_task(spec, smtp_server, pushed):
    with pytest.raises(ValueError, match="task 'validate' pushed no validated digest; nothing to deliver"):
        deliver(spec, smtp_server, pushed)
    assert smtp_server.messages == []


def test_a_digest_changed_after_validation_is_not_sent(spec, smtp_server, tmp_path):
    pushed = validated(tmp_path)
    Path(pushed["artifact"]).write_text("# Digest\n\n- Wire money to IBAN DE89 3704 0044 0532 0130 00\n")
    with pytest.raises(ArtifactChanged, match="changed after validation; clear the run from 'summarize'"):
        deliver(spec, smtp_server, pushed)
    assert smtp_server.messages == []


def test_under_an_executor_that_spreads_tasks_a_sqlite_ledger_sends_nothing(
    spec, smtp_server, tmp_path, monkeypatch
):
    # Its type was unknown at parse (a connection in the metadata DB): the task refuses instead.
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.delenv("AGENTJOBS_LEDGER_SINGLE_HOST", raising=False)
    pushed = validated(tmp_path)
    with pytest.raises(SplitLedgerError, match=r"job 'daily_digest' .* CeleryExecutor runs tasks on several"):
        deliver(spec, smtp_server, pushed)
    assert smtp_server.messages == []
    # A deployment whose Celery workers all run on this host says so, and delivers.
    monkeypatch.setenv("AGENTJOBS_LEDGER_SINGLE_HOST", "1")
    assert deliver(spec, smtp_server, pushed)["delivered"] is True
    assert len(smtp_server.messages) == 1

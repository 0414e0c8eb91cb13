"""The health check task on its own: where a broken spec's alert goes when the spec cannot say
(every distinct channel of the healthy jobs, once each), that a failed send is not counted as
sent, that no secret from a spec's error reaches an alert, and that it fails while a spec is broken.
(tests/jobs/test_health.py runs the health DAG: once a day per problem, the spec's own channel.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from agentjobs.jobs.channels.email import EmailChannel
from agentjobs.jobs.spec import BrokenSpec, JobSpec
from agentjobs.operators.health import JobHealthOperator

CONTEXT = {"run_id": "scheduled__2026-11-25T06:00:00+00:00"}


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_HEALTH_OP_LEDGER", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    )
    return "health_op_ledger"


def healthy(dag_id: str, ledger: str, alert: dict[str, Any] | None) -> JobSpec:
    """A job that started today: not stale, never failed, so only the broken spec is a problem."""
    return JobSpec.model_validate(
        {
            "dag_id": dag_id,
            "title": dag_id,
            "start_date": datetime.now(UTC).date().isoformat(),
            "skill": "daily-digest",
            "sources": {"rss": {"feeds": ["feed.xml"]}},
            "ledger_conn_id": ledger,
            **({"alert": alert} if alert else {}),
        }
    )


def broken(error: str = "field 'title' is required; add it", **fields: Any) -> BrokenSpec:
    return BrokenSpec(path=Path("/jobs/b-bad.yaml"), error=error, dag_id="bad_job", **fields)


def run(operator: JobHealthOperator) -> list[dict[str, str]]:
    """The problems the task found: its return value, or what it logged before failing."""
    with pytest.raises(
        AirflowFailException, match=r"^1 broken job spec\(s\) left out of the scheduler: b-bad.yaml$"
    ):
        operator.execute(CONTEXT)
    return operator.found


class Recording(JobHealthOperator):
    """The operator, keeping what it found although it fails (Airflow keeps no XCom of a failure)."""

    def _alert_once(
        self, job: str, kind: str, message: str, targets: Any, context: Any, now: datetime
    ) -> str:
        outcome = super()._alert_once(job, kind, message, targets, context, now)
        self.found = [
            *getattr(self, "found", []),
            {"job": job, "kind": kind, "message": message, "alerted": outcome},
        ]
        return outcome


def mail(smtp_server, to: list[str]) -> dict[str, Any]:
    return {"type": "email", "conn_id": smtp_server.conn_id, "to": to}


def test_a_broken_spec_with_no_channel_of_its_own_alerts_each_distinct_channel_of_the_others_once(
    ledger, smtp_server
):
    specs = [
        healthy("job_a", ledger, mail(smtp_server, ["team@example.org"])),
        healthy("job_b", ledger, mail(smtp_server, ["team@example.org"])),  # the same channel: once
        healthy("job_c", ledger, mail(smtp_server, ["ops@example.org"])),
        healthy("job_d", ledger, None),
    ]
    (problem,) = run(Recording(task_id="check_jobs", specs=specs, broken=[broken()]))
    assert problem["job"] == "bad_job" and problem["kind"] == "broken" and problem["alerted"] == "alerted"
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["ops@example.org", "team@example.org"]
    assert problem["message"] == (
        "job spec b-bad.yaml is broken, so bad_job does not run: field 'title' is required; add it"
    )

    # Later the same day: each channel's ledger row says it was told.
    (again,) = run(Recording(task_id="check_jobs", specs=specs, broken=[broken()]))
    assert again["alerted"] == "already alerted today" and len(smtp_server.messages) == 2


def test_a_broken_spec_with_its_own_channel_alerts_only_that_one(ledger, smtp_server):
    specs = [healthy("job_a", ledger, mail(smtp_server, ["team@example.org"]))]
    own = EmailChannel(type="email", conn_id=smtp_server.conn_id, to=["owner@example.org"])
    run(Recording(task_id="check_jobs", specs=specs, broken=[broken(alert=own, ledger_conn_id=ledger)]))
    assert [m.rcpt_tos for m in smtp_server.messages] == [["owner@example.org"]]


def test_with_no_channel_anywhere_the_broken_spec_is_still_named_and_fails_the_task(ledger):
    (problem,) = run(
        Recording(task_id="check_jobs", specs=[healthy("job_a", ledger, None)], broken=[broken()])
    )
    assert problem["alerted"] == "no alert channel"


def test_a_secret_in_a_specs_error_is_scrubbed_before_it_is_logged_or_sent(ledger, smtp_server):
    token = "xoxb-" + "1234567890-" * 2 + "AbCdEfGhIjKlMnOpQrStUvWx"
    specs = [healthy("job_a", ledger, mail(smtp_server, ["team@example.org"]))]
    (problem,) = run(
        Recording(task_id="check_jobs", specs=specs, broken=[broken(error=f"field 'token' got {token}")])
    )
    assert token not in problem["message"] and "b-bad.yaml" in problem["message"]
    (sent,) = smtp_server.messages
    assert token.encode() not in sent.content


def test_an_alert_that_could_not_be_sent_is_sent_again_by_the_next_check(ledger, smtp_server, monkeypatch):
    specs = [healthy("job_a", ledger, mail(smtp_server, ["team@example.org"]))]

    def refuse(self, subject: str, body: str) -> None:
        raise ConnectionRefusedError("smtp down")

    with monkeypatch.context() as patched:
        patched.setattr("agentjobs.notifications.alert.JobAlertNotifier.send", refuse)
        with pytest.raises(ConnectionRefusedError):
            JobHealthOperator(task_id="check_jobs", specs=specs, broken=[broken()]).execute(CONTEXT)
    assert smtp_server.messages == []

    (problem,) = run(Recording(task_id="check_jobs", specs=specs, broken=[broken()]))
    assert problem["alerted"] == "alerted" and len(smtp_server.messages) == 1

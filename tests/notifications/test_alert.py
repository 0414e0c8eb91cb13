"""JobAlertNotifier: what an on-call person receives, and what they never receive."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime
from types import SimpleNamespace

from agentjobs.notifications.alert import JobAlertNotifier

SECRETS = [
    "sk-proj-" + "a1B2c3D4" * 4,
    "ghp_" + "Z9y8X7w6" * 4 + "ab12",
    "xoxb-1234567890-0987654321-" + "q" * 24,
    "AKIAIOSFODNN7EXAMPLE",
]


def text_of(envelope) -> str:
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    return message["Subject"] + "\n" + message.get_body(("plain",)).get_content()


def notifier(smtp_server, **kwargs) -> JobAlertNotifier:
    return JobAlertNotifier(
        channel_type="email",
        conn_id=smtp_server.conn_id,
        to=["oncall@example.org"],
        job_title="Daily digest",
        **kwargs,
    )


def test_a_failure_alert_names_job_date_task_and_reason_and_no_secret(smtp_server):
    planted = f"upstream said: {SECRETS[0]} / {SECRETS[1]} / {SECRETS[2]} / key {SECRETS[3]} / postgresql://bob:hunter22@db/x"
    context = {
        "ti": SimpleNamespace(dag_id="daily_digest", task_id="summarize", try_number=2),
        "dag_run": SimpleNamespace(dag_id="daily_digest", run_id="scheduled__2026-11-25T02:00:00+00:00"),
        "logical_date": datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
        "exception": RuntimeError(planted),
    }
    notifier(smtp_server).notify(context)
    (mail,) = smtp_server.messages
    text = text_of(mail)
    assert "daily_digest" in text and "2026-11-25" in text and "summarize" in text and "RuntimeError" in text
    for secret in [*SECRETS, "hunter22"]:
        assert secret not in text


def test_a_failure_alert_quoting_a_tool_request_carries_none_of_its_secrets(smtp_server):
    # How an endpoint or a tool error quotes what it was sent: JSON arguments inside a string,
    # a webhook, a JWT, a key file, a cache URL and a cookie.
    planted = {
        "webhook": "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/c0ffeec0ffeec0ffee",
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.Zm9vYmFyYmF6cXV4cXV1eA",
        "pem": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\n-----END PRIVATE KEY-----",
        "redis": "redis://:r3d1s-pw@cache:6379",
        "cookie": "Cookie: session=5e55i0n-v4lue",
        "url": "https://deploy:s/3c#ret@git.example.org/a.git",
    }
    arguments = '{"tool": "http_get", "args": "{\\"url\\": \\"x\\", \\"api_key\\": \\"k3y-in-args\\"}"}'
    context = {
        "ti": SimpleNamespace(dag_id="daily_digest", task_id="summarize", try_number=1),
        "dag_run": SimpleNamespace(dag_id="daily_digest", run_id="scheduled__x"),
        "logical_date": datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
        "exception": RuntimeError(f"tool failed: {arguments} " + " ".join(planted.values())),
    }
    notifier(smtp_server).notify(context)
    (mail,) = smtp_server.messages
    text = text_of(mail)
    assert "tool failed" in text and "hooks.slack.com/services/***" in text
    secrets = ["c0ffeec0ffee", "eyJzdWIiOiJib2IifQ", "MIIEvQIBADAN", "r3d1s-pw", "5e55i0n-v4lue", "s/3c#ret"]
    for secret in [*secrets, "k3y-in-args"]:
        assert secret not in text


def test_a_deadline_alert_runs_in_the_triggerer_as_an_awaitable(smtp_server):
    # The triggerer instantiates the class with its kwargs and the context, then awaits it.
    context = {
        "dag_run": {"dag_id": "daily_digest", "run_id": "manual__x", "logical_date": "2026-11-25T02:00:00"}
    }
    late = notifier(
        smtp_server, kind="deadline", late_after="within 90 minutes of being queued", context=context
    )
    asyncio.run(_await(late))
    (mail,) = smtp_server.messages
    text = text_of(mail)
    assert "late" in text and "within 90 minutes" in text and "daily_digest" in text
    assert "Run: manual__x" in text


def test_a_deadline_passed_by_a_run_that_already_failed_pages_no_one_again(smtp_server):
    # Airflow keeps a failed run's deadline; its failure alert (a task's or the timeout's) went out.
    context = {"dag_run": {"dag_id": "daily_digest", "dag_run_id": "scheduled__x", "state": "failed"}}
    late = notifier(smtp_server, kind="deadline", late_after="within 45 minutes", context=context)
    asyncio.run(_await(late))
    assert smtp_server.messages == []
    context["dag_run"]["state"] = "running"
    still_running = notifier(smtp_server, kind="deadline", late_after="within 45 minutes", context=context)
    asyncio.run(_await(still_running))
    (mail,) = smtp_server.messages
    assert "late" in text_of(mail)


async def _await(awaitable) -> None:
    await awaitable


def test_an_alert_names_the_days_the_run_covers_in_the_jobs_time_zone(smtp_server):
    # The run of the 25th at 03:00 Berlin (02:00 UTC) digests the 24th; a weekly job its 7 days.
    context = {
        "ti": SimpleNamespace(dag_id="daily_digest", task_id="validate", try_number=1),
        "dag_run": SimpleNamespace(dag_id="daily_digest", run_id="scheduled__x"),
        "logical_date": datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
        "exception": RuntimeError("broken"),
    }
    notifier(smtp_server, timezone="Europe/Berlin").notify(context)
    notifier(smtp_server, timezone="Europe/Berlin", period_days=7).notify(context)
    notifier(smtp_server).notify(context)
    daily, weekly, unknown = (text_of(m) for m in smtp_server.messages)
    assert "run for 2026-11-25T02:00:00+00:00, covering 2026-11-24 failed" in daily
    assert "covering 2026-11-18 to 2026-11-24 failed" in weekly
    assert "covering" not in unknown  # without the job's time zone it does not guess


def test_a_secret_airflow_masks_is_masked_in_the_alert_too(smtp_server):
    # A connection password with no recognisable shape: Airflow's masker learnt it when the
    # connection was read; the alert quotes an error that echoes it.
    from airflow.sdk.log import mask_secret

    password = "plain-W0rds-n0-shape-7731"
    mask_secret(password)
    context = {
        "ti": SimpleNamespace(dag_id="daily_digest", task_id="deliver_email_0", try_number=1),
        "dag_run": SimpleNamespace(dag_id="daily_digest", run_id="scheduled__x"),
        "logical_date": datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
        "exception": RuntimeError(f"535 authentication failed for user bob with {password}"),
    }
    notifier(smtp_server).notify(context)
    (mail,) = smtp_server.messages
    text = text_of(mail)
    assert "535 authentication failed for user bob" in text
    assert password not in text


def test_an_alert_quoting_a_reply_with_a_lone_surrogate_is_still_sent(smtp_server):
    # A contract violation quotes the reply's tail; "\ud800" in it could not be encoded for SMTP.
    context = {
        "ti": SimpleNamespace(dag_id="daily_digest", task_id="summarize", try_number=1),
        "dag_run": SimpleNamespace(dag_id="daily_digest", run_id="scheduled__x"),
        "logical_date": datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
        "exception": RuntimeError("output contract violated: no RESULT line. End of the reply: a\ud800b"),
    }
    notifier(smtp_server).notify(context)
    (mail,) = smtp_server.messages
    assert "End of the reply: a\ufffdb" in text_of(mail)


def test_a_run_failing_for_many_teams_is_one_bounded_alert_with_no_secret(smtp_server):
    """The run's alert task hands over every failed task instance; the message stays one mail of
    a readable size, names the teams, and carries none of the secrets the reasons quoted."""
    from agentjobs.notifications.alert import FAILURES_LISTED, TaskFailure

    failures = [
        TaskFailure(
            task="team.summarize", team=f"team-{n:02d}", reason=f"TransientAgentError: 503 {SECRETS[n % 4]}"
        )
        for n in range(40)
    ]
    context = {
        "dag_run": SimpleNamespace(dag_id="weekly_insights", run_id="scheduled__2026-11-29T09:00:00+00:00"),
        "logical_date": datetime(2026, 11, 29, 9, 0, tzinfo=UTC),
        "failures": failures,
        "teams_served": 45,
    }
    notifier(smtp_server).notify(context)
    (mail,) = smtp_server.messages
    text = text_of(mail)
    assert text.strip().startswith(
        "[agentjobs] weekly_insights 2026-11-29T09:00:00+00:00: 40 of 45 teams failed"
    )
    assert text.count("`team.summarize`: TransientAgentError: 503") == FAILURES_LISTED
    assert "team team-00:" in text and f"team team-{FAILURES_LISTED - 1:02d}:" in text
    assert f"… and {40 - FAILURES_LISTED} more" in text
    for secret in SECRETS:
        assert secret not in text

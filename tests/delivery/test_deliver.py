"""deliver() with plain callables: what is recorded when sending fails in each way."""

from __future__ import annotations

import pytest

from agentjobs.delivery import DeliveryStateUnknown, deliver, sha256_file


class Killed(BaseException):
    """Stands in for AirflowTaskTimeout / AirflowTaskTerminated (both BaseException)."""


def _deliver(ledger, artifact, send, *, force=False, run_id="run-1"):
    return deliver(
        ledger=ledger,
        job="daily_digest",
        logical_date="2026-11-24",
        run_id=run_id,
        channel="slack",
        target="#digest",
        artifact=artifact,
        force=force,
        send=send,
    )


def _rows(ledger):
    return ledger.history(job="daily_digest", logical_date="2026-11-24")


def test_delivered_row_has_hash_and_receipt(any_ledger, artifact):
    outcome = _deliver(any_ledger, artifact, lambda: {"ts": "1.0"})
    assert (outcome.delivered, outcome.attempt, outcome.receipt) == (True, 1, {"ts": "1.0"})
    [row] = _rows(any_ledger)
    assert (row.status, row.content_sha256, row.receipt) == ("sent", sha256_file(artifact), {"ts": "1.0"})


def test_killed_while_sending_leaves_state_unknown(any_ledger, artifact):
    def killed() -> dict:
        raise Killed()

    with pytest.raises(Killed):
        _deliver(any_ledger, artifact, killed)
    assert [r.status for r in _rows(any_ledger)] == ["sending"]

    sent: list[int] = []
    with pytest.raises(DeliveryStateUnknown):
        _deliver(any_ledger, artifact, lambda: sent.append(1) or {}, run_id="run-2")
    assert not sent


def test_ledger_write_failing_after_the_send_leaves_state_unknown(any_ledger, artifact, monkeypatch):
    def broken(claim, receipt):
        raise RuntimeError("database went away")

    monkeypatch.setattr(any_ledger, "mark_sent", broken)
    with pytest.raises(RuntimeError, match="went away"):
        _deliver(any_ledger, artifact, lambda: {"ts": "1.0"})
    monkeypatch.undo()
    # Not 'failed': the message went out, so a plain retry must not send it again.
    assert [r.status for r in _rows(any_ledger)] == ["sending"]
    with pytest.raises(DeliveryStateUnknown):
        _deliver(any_ledger, artifact, lambda: {}, run_id="run-2")


def test_errors_are_recorded_without_secrets(any_ledger, artifact):
    def leaky() -> dict:
        raise ConnectionError(
            "POST https://hooks.slack.com/services/T0AB/B0CD/sEcReTwebhook9 failed; "
            "token=xoxb-1234567890-abcdefghij and https://user:pw123@host/x"
        )

    with pytest.raises(ConnectionError):
        _deliver(any_ledger, artifact, leaky)
    [row] = _rows(any_ledger)
    assert row.status == "failed" and row.error.startswith("ConnectionError: POST")
    for secret in ("sEcReTwebhook9", "xoxb-1234567890", "pw123"):
        assert secret not in row.error


def test_skip_mentions_a_changed_artifact(any_ledger, artifact):
    _deliver(any_ledger, artifact, lambda: {"ts": "1.0"})
    same = _deliver(any_ledger, artifact, lambda: {"ts": "2.0"}, run_id="run-2")
    assert not same.delivered and "changed" not in same.message and same.receipt == {"ts": "1.0"}
    artifact.write_text("# New\n")
    changed = _deliver(any_ledger, artifact, lambda: {"ts": "2.0"}, run_id="run-3")
    assert not changed.delivered and "force_redeliver=true" in changed.message

"""S3 through S3Hook against moto's server on loopback, behind the ledger."""

from __future__ import annotations

import hashlib

from agentjobs.delivery import deliver, digest_key, send_s3


def _deliver(s3_server, ledger, artifact, *, force=False, run_id="run-1", prefix="digests"):
    return deliver(
        ledger=ledger,
        job="daily_digest",
        logical_date="2026-11-24",
        run_id=run_id,
        channel="s3",
        target=f"s3://{s3_server.bucket}/{prefix}",
        artifact=artifact,
        force=force,
        send=lambda: send_s3(
            aws_conn_id=s3_server.conn_id,
            bucket=s3_server.bucket,
            prefix=prefix,
            dag_id="daily_digest",
            logical_date="2026-11-24",
            artifact=artifact,
            sources_dir=artifact.parent / "sources",
        ),
    )


def test_object_equals_the_artifact_and_snapshots_are_next_to_it(s3_server, ledger, artifact):
    # CRLF and non-ASCII must survive byte for byte.
    artifact.write_bytes("# Digest\r\n\r\nCafé — naïve ✓\r\n".encode())
    outcome = _deliver(s3_server, ledger, artifact)
    client = s3_server.client()

    key = "digests/daily_digest/2026-11-24.md"
    obj = client.get_object(Bucket=s3_server.bucket, Key=key)
    assert obj["Body"].read() == artifact.read_bytes()
    assert outcome.receipt == {
        "bucket": s3_server.bucket,
        "key": key,
        "etag": obj["ETag"].strip('"'),
        "sources": [
            "digests/daily_digest/2026-11-24/sources/feeds.json",
            "digests/daily_digest/2026-11-24/sources/github.json",
        ],
    }
    assert outcome.receipt["etag"] == hashlib.md5(artifact.read_bytes()).hexdigest()
    for name in ("github.json", "feeds.json"):
        body = client.get_object(
            Bucket=s3_server.bucket, Key=f"digests/daily_digest/2026-11-24/sources/{name}"
        )
        assert body["Body"].read() == (artifact.parent / "sources" / name).read_bytes()
    assert "testing" not in str(outcome.receipt)


def test_second_delivery_skipped_force_overwrites(s3_server, ledger, artifact):
    first = _deliver(s3_server, ledger, artifact)
    assert not _deliver(s3_server, ledger, artifact, run_id="run-2").delivered

    artifact.write_text("# Corrected digest\n")
    forced = _deliver(s3_server, ledger, artifact, force=True, run_id="run-3")
    assert forced.delivered and forced.attempt == 2 and forced.receipt["etag"] != first.receipt["etag"]
    body = s3_server.client().get_object(Bucket=s3_server.bucket, Key=first.receipt["key"])["Body"].read()
    assert body == b"# Corrected digest\n"
    rows = ledger.history(job="daily_digest", logical_date="2026-11-24", channel="s3")
    assert [(r.attempt, r.status) for r in rows] == [(1, "sent"), (2, "sent")]
    assert rows[0].content_sha256 != rows[1].content_sha256


def test_missing_bucket_marks_failed(s3_server, ledger, artifact):
    s3_server.bucket = "no-such-bucket-here"
    try:
        _deliver(s3_server, ledger, artifact)
    except Exception as exc:
        assert "NoSuchBucket" in f"{type(exc).__name__}: {exc}" or "does not exist" in str(exc)
    else:
        raise AssertionError("upload to a missing bucket succeeded")
    [row] = ledger.history(job="daily_digest", logical_date="2026-11-24")
    assert row.status == "failed"


def test_digest_key_layout():
    assert digest_key("digests", "daily_digest", "2026-11-24") == "digests/daily_digest/2026-11-24.md"
    assert digest_key("/a/b/", "d", "2026-01-02") == "a/b/d/2026-01-02.md"
    assert digest_key("", "d", "2026-01-02") == "d/2026-01-02.md"

"""A rendered report stored once per name, as a local file or an S3 object (the moto server on loopback):
the same bytes again write nothing, other bytes are refused unless replacing is asked for."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agentjobs.delivery.report_store import Location, ReportConflict, location, store_once

FIRST, SECOND = b"%PDF-1.7 first report", b"%PDF-1.7 another report"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_report_goes_under_its_team_in_the_storage_or_into_the_run_folder(tmp_path):
    assert location("s3://reports/monthly/", tmp_path, "team-la", "2026-11.pdf").uri == (
        "s3://reports/monthly/team-la/2026-11.pdf"
    )
    local = location(None, tmp_path / "run", "team-la", "2026-11.pdf")
    assert local.scheme == "file" and local.path == (tmp_path / "run" / "2026-11.pdf").resolve()
    s3 = Location("s3://reports/monthly/team-la/2026-11.pdf")
    assert s3.bucket_key == ("reports", "monthly/team-la/2026-11.pdf")


def test_a_local_report_is_written_once_and_the_same_bytes_again_write_nothing(tmp_path):
    where = location(None, tmp_path / "run" / "team-la", "team-la", "2026-11.pdf")
    receipt = store_once(where, FIRST)
    assert receipt == {"uri": where.uri, "sha256": sha(FIRST), "bytes": len(FIRST), "written": True}
    assert where.path.read_bytes() == FIRST  # its folder made on the way
    assert store_once(where, FIRST)["written"] is False


def test_other_bytes_under_the_name_are_refused_naming_both_and_the_way_to_replace(tmp_path):
    where = location(None, tmp_path, "team-la", "2026-11.pdf")
    store_once(where, FIRST)
    with pytest.raises(ReportConflict) as refused:
        store_once(where, SECOND)
    message = str(refused.value)
    assert where.uri in message and sha(FIRST) in message and sha(SECOND) in message
    assert "force_redeliver=true" in message
    assert where.path.read_bytes() == FIRST  # the first report is never replaced silently
    assert store_once(where, SECOND, replace=True)["written"] is True
    assert where.path.read_bytes() == SECOND


def test_a_storage_that_is_neither_s3_nor_a_file_is_refused(tmp_path):
    with pytest.raises(ValueError) as refused:
        store_once(location("gs://reports", tmp_path, "team-la", "2026-11.pdf"), FIRST)
    assert str(refused.value) == "cannot store to 'gs://reports/team-la/2026-11.pdf'; use s3:// or file://"


def test_an_s3_report_is_put_once_and_refused_when_different_unless_replaced(s3_server, tmp_path: Path):
    where = location(f"s3://{s3_server.bucket}/monthly", tmp_path, "team-la", "2026-11.pdf")
    key = "monthly/team-la/2026-11.pdf"

    def stored() -> bytes:
        return s3_server.client().get_object(Bucket=s3_server.bucket, Key=key)["Body"].read()

    assert store_once(where, FIRST, conn_id=s3_server.conn_id)["written"] is True
    assert stored() == FIRST
    again = store_once(where, FIRST, conn_id=s3_server.conn_id)
    assert again == {"uri": where.uri, "sha256": sha(FIRST), "bytes": len(FIRST), "written": False}
    with pytest.raises(ReportConflict, match="already holds another document"):
        store_once(where, SECOND, conn_id=s3_server.conn_id)
    assert stored() == FIRST
    assert store_once(where, SECOND, conn_id=s3_server.conn_id, replace=True)["written"] is True
    assert stored() == SECOND

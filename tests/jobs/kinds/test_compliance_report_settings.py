"""The compliance_report spec section: where the PDFs go is an s3:// prefix or an absolute folder."""

from __future__ import annotations

from datetime import date

import pytest

from tests.jobs.kinds.test_compliance_report import snapshot


def test_a_storage_that_is_not_s3_or_an_absolute_file_folder_is_refused_naming_the_field(tmp_path) -> None:
    from agentjobs.jobs.spec import JobSpecError, load_spec
    from tests.jobs.business import REPO

    shipped = (REPO / "include" / "jobs" / "compliance-report.yaml").read_text()
    for n, bad in enumerate(
        ("ftp://host/reports", "file://relative/path", "reports/", "s3://acme-reports/p/")
    ):
        path = tmp_path / f"job{n}.yaml"
        path.write_text(shipped.replace("  # storage: s3://my-bucket/compliance", f"  storage: {bad}"))
        if bad.startswith("s3://"):
            assert load_spec(path).kind_settings().storage == "s3://acme-reports/p"
            continue
        with pytest.raises(JobSpecError, match=r"field 'compliance_report\.storage'.*s3://bucket/prefix"):
            load_spec(path)
    assert date.fromisoformat(snapshot().period.key) == date(2026, 10, 31)


def test_a_storage_bucket_s3_would_refuse_is_refused_at_load(tmp_path) -> None:
    from agentjobs.jobs.spec import JobSpecError, load_spec
    from tests.jobs.business import REPO

    shipped = (REPO / "include" / "jobs" / "compliance-report.yaml").read_text()
    path = tmp_path / "job.yaml"
    path.write_text(
        shipped.replace("  # storage: s3://my-bucket/compliance", "  storage: s3://My_Reports/pdf")
    )
    with pytest.raises(
        JobSpecError, match=r"field 'compliance_report\.storage'.*'My_Reports' is not a bucket name"
    ):
        load_spec(path)

"""`type: s3`: the object key of a run's artifact, `<prefix>/<dag_id>/<day>.md`, and its ledger target."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pydantic
import pytest

from agentjobs.jobs.channels.s3 import S3Channel, digest_key


@pytest.mark.parametrize(
    "day", ["2026-11-24", date(2026, 11, 24), datetime(2026, 11, 24, 23, 30, tzinfo=UTC)]
)
def test_the_key_is_the_same_for_a_day_however_it_is_given(day):
    assert digest_key("reports", "daily_digest", day) == "reports/daily_digest/2026-11-24.md"


@pytest.mark.parametrize(
    ("prefix", "key"),
    [
        ("reports", "reports/job/2026-11-24.md"),
        ("/reports/", "reports/job/2026-11-24.md"),
        ("team/reports", "team/reports/job/2026-11-24.md"),
        ("", "job/2026-11-24.md"),
        ("/", "job/2026-11-24.md"),
    ],
)
def test_the_prefix_is_one_folder_path_without_doubled_or_leading_slashes(prefix, key):
    assert digest_key(prefix, "job", "2026-11-24") == key


@pytest.mark.parametrize("day", ["../../etc/passwd", "2026-11-24/../x", "2026-11-24\n", "yesterday"])
def test_a_day_that_is_not_a_date_never_becomes_part_of_a_key(day):
    with pytest.raises(ValueError):
        digest_key("reports", "job", day)


def test_the_target_is_the_objects_url_and_the_defaults_are_aws_default_and_reports():
    channel = S3Channel(type="s3", bucket="acme-digests")
    assert (channel.conn_id, channel.prefix) == ("aws_default", "reports")
    assert (
        channel.target("daily_digest", "2026-11-24") == "s3://acme-digests/reports/daily_digest/2026-11-24.md"
    )
    assert not S3Channel.alerts


def test_a_bucket_is_required():
    with pytest.raises(pydantic.ValidationError, match="bucket"):
        S3Channel(type="s3")


@pytest.mark.parametrize(
    ("bucket", "why"),
    [
        ("My_Bucket", "it holds 'B', 'M', '_'"),
        ("a", "it is 1 character(s) long"),
        ("x" * 64, "it is 64 character(s) long"),
        ("bucket..x", "two dots in a row"),
        ("reports/daily", "put the folder in `prefix`"),
        ("-reports", "begin and end with a letter or digit"),
        ("reports.", "begin and end with a letter or digit"),
        ("192.168.5.4", "formatted as an IP address"),
        ("xn--reports", "'xn--' is reserved by AWS"),
    ],
)
def test_a_bucket_s3_would_refuse_is_refused_naming_the_rule_it_breaks(bucket, why):
    # S3 refuses these only when the upload is tried: after the run's paid model call.
    with pytest.raises(pydantic.ValidationError) as refused:
        S3Channel(type="s3", bucket=bucket)
    message = str(refused.value)
    assert f"{bucket!r} is not an S3 bucket name" in message and why in message
    assert "3-63 lower-case letters, digits, dots and hyphens" in message


@pytest.mark.parametrize("bucket", ["abc", "acme-reports", "acme.reports.eu", "1st-bucket", "x" * 63])
def test_a_bucket_s3_accepts_loads(bucket):
    assert S3Channel(type="s3", bucket=bucket).bucket == bucket

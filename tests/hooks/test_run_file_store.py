"""The run-file store as Airflow's configuration names it: what is refused, and how a store's
URIs map to folders below it (what XCom carries between tasks on different hosts)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import pytest

from agentjobs.hooks.run_file_store import RunFileStore, RunFileStoreError, configured_store


def test_unset_means_run_files_stay_on_local_disk(monkeypatch):
    monkeypatch.delenv("AIRFLOW__AGENTJOBS__RUN_FILES", raising=False)
    assert configured_store() is None


def test_the_url_and_connection_come_from_the_agentjobs_section(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", "s3://bucket/agentjobs/")
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES_CONN_ID", "aws_runs")
    assert configured_store() == RunFileStore("s3://bucket/agentjobs", "aws_runs")


@pytest.mark.parametrize("url", ["bucket/prefix", "s3://", "/var/run-files"])
def test_a_store_that_is_not_a_url_of_a_folder_is_refused(url, monkeypatch):
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", url)
    with pytest.raises(RunFileStoreError, match="not a URL of a folder"):
        configured_store()


def test_a_file_url_with_a_relative_folder_is_refused(monkeypatch):
    # fsspec reads file://shared/runs as ./shared/runs: each process's working folder, so the
    # tasks of one run would each write to a folder of their own.
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", "file://shared/runs")
    with pytest.raises(RunFileStoreError, match=r"run_files = 'file://shared/runs'.*file:///shared/runs"):
        configured_store()
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", "file:///shared/runs")
    assert configured_store() == RunFileStore("file:///shared/runs", None)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("s3://My_Bucket/runs", "holds 'B', 'M', '_'"),
        ("s3://ab/runs", "2 character"),
        ("s3a://runs..2026/x", "two dots"),
        ("s3://192.168.1.10/runs", "IP address"),
    ],
)
def test_an_s3_bucket_s3_would_refuse_is_refused_where_it_is_configured(url, rule, monkeypatch):
    # Before, the first task to push a file failed with S3's own error, after its model call.
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", url)
    expected = rf"run_files = '{re.escape(url)}'.*{rule}.*e\.g\. acme-reports"
    with pytest.raises(RunFileStoreError, match=expected):
        configured_store()
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", "s3://acme-runs.eu/agentjobs/")
    assert configured_store() == RunFileStore("s3://acme-runs.eu/agentjobs", None)


def test_a_scheme_no_installed_filesystem_serves_is_refused_naming_the_option(monkeypatch):
    # Else the first task to touch run files failed with "Unsupported filesystem: 'gcs3'", naming
    # neither the option nor the fix.
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", "gcs3://bucket/runs")
    with pytest.raises(RunFileStoreError, match=r"\[agentjobs\] run_files = 'gcs3://bucket/runs'.*gcs3://"):
        configured_store()


def test_the_scheme_is_read_case_blind_as_urls_are(monkeypatch):
    # The scheme only: a bucket name is lower-case by S3's rules, a key keeps its case.
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", "S3://acme-runs/Runs")
    store = configured_store()
    assert store == RunFileStore("s3://acme-runs/Runs", None)
    assert store.uri(PurePosixPath("a/b")) == "s3://acme-runs/Runs/a/b"


def test_a_store_url_holding_credentials_is_refused_without_quoting_them(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", "s3://AKIAXXX:s3cr3t@bucket/prefix")
    with pytest.raises(RunFileStoreError) as refused:
        configured_store()
    assert "s3cr3t" not in str(refused.value) and "run_files_conn_id" in str(refused.value)


def test_a_uri_maps_back_to_its_folder_only_when_it_is_below_the_store():
    store = RunFileStore("s3://bucket/runs", None)
    folder = PurePosixPath("weekly_insights/team-a/2026-W48")
    assert store.relative(store.uri(folder)) == folder
    for outside in (
        "s3://bucket/other/weekly_insights/x.md",
        "s3://bucket/runs",
        "s3://bucket/runs/../escape.md",
        "s3://bucket/runs//x.md",
        "/local/runs/x.md",
    ):
        assert store.relative(outside) is None, outside

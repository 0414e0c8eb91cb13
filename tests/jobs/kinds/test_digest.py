"""The digest as a kind: a spec without `kind:` is a digest, and a digest reads no business database."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjobs.jobs.spec import JobSpecError, load_spec

REPO = Path(__file__).resolve().parents[3]


def spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


def test_a_digest_spec_without_a_kind_is_a_digest_and_may_not_read_sql(tmp_path):
    digest = (REPO / "include" / "jobs" / "daily-digest.yaml").read_text()
    assert load_spec(spec_file(tmp_path, digest)).kind == "digest"
    with pytest.raises(JobSpecError, match=r"field 'sources.sql': a digest reads git, github and rss"):
        load_spec(spec_file(tmp_path, digest.replace("sources:\n", "sources:\n  sql: {}\n")))

"""One source's fetch task on its own: a source the spec lacks is refused when the DAG is built,
the snapshot covers the run's period and is reused by a rerun unless `refetch`, and a feed that
cannot be read becomes a note the task passes on instead of a failure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.fetch import FetchSourceOperator, fetch_source

# The run of 25 November covers 24 November (UTC).
LOGICAL = datetime(2026, 11, 25, 3, tzinfo=UTC)


def item(title: str, day: int) -> str:
    return (
        f"<item><title>{title}</title><link>https://example.org/{title.replace(' ', '-')}</link>"
        f"<pubDate>{day} Nov 2026 10:00:00 GMT</pubDate></item>"
    )


def feed(path: Path, *items: str) -> Path:
    path.write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{"".join(items)}</channel></rss>'
    )
    return path


def spec(feeds: list[str]) -> JobSpec:
    return JobSpec.model_validate(
        {
            "dag_id": "feed_digest",
            "title": "Feed digest",
            "timezone": "UTC",
            "start_date": "2026-11-01",
            "skill": "daily-digest",
            "sources": {"rss": {"feeds": feeds}},
        }
    )


def fetch(job: JobSpec, **params: Any) -> dict[str, Any]:
    return FetchSourceOperator(task_id="fetch_rss", source="rss", spec=job).execute(
        {"logical_date": LOGICAL, "params": params}
    )


@pytest.fixture(autouse=True)
def artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


def test_a_source_the_spec_does_not_have_fails_the_dag_build_naming_the_ones_it_has(tmp_path):
    with pytest.raises(ValueError, match=r"job 'feed_digest' has no 'github' source; it has \['rss'\]"):
        FetchSourceOperator(task_id="fetch_github", source="github", spec=spec([str(tmp_path / "f.xml")]))


def test_the_snapshot_holds_the_periods_entries_and_a_rerun_reuses_it_unless_refetch(tmp_path, artifacts):
    path = feed(
        tmp_path / "f.xml", item("in the day", 24), item("the day before", 23), item("the run day", 25)
    )
    job = spec([str(path)])
    first = fetch(job)
    snapshot = artifacts / "feed_digest" / "2026-11-24" / "sources" / "rss.json"
    assert first["source"] == "rss" and first["snapshot"] == str(snapshot) and snapshot.is_file()
    assert first["entries"] == 1 and first["commits"] == 0 and first["notes"] == []

    feed(path, item("in the day", 24), item("late news of the day", 24))
    assert fetch(job)["entries"] == 1  # a clear or a backfill summarizes exactly the same input
    assert fetch(job, refetch=True)["entries"] == 2
    assert fetch(job)["entries"] == 2  # the refetched snapshot is the one kept


def test_a_feed_that_cannot_be_read_is_a_note_and_the_others_are_still_read(tmp_path):
    good = feed(tmp_path / "good.xml", item("in the day", 24))
    result = fetch(spec([str(tmp_path / "gone.xml"), str(good)]))
    assert result["entries"] == 1
    (note,) = result["notes"]
    assert note == f"rss:{tmp_path / 'gone.xml'}: file not found: skipped"


def test_a_source_no_code_fetches_is_refused_by_name(tmp_path):
    from agentjobs.jobs.period import period_for

    with pytest.raises(ValueError, match=r"^unknown source 'ftp'$"):
        fetch_source("ftp", spec([str(tmp_path / "f.xml")]), period_for(LOGICAL, "UTC", 1))

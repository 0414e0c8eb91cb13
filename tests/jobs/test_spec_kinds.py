"""A spec names its kind; the kind's own section and sources are checked as strictly as the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjobs.jobs.spec import ChunkLayout, JobSpecError, load_spec

REPO = Path(__file__).resolve().parents[2]
INSIGHTS = (REPO / "include" / "jobs" / "weekly-insights.yaml").read_text()


def spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("  bullets_max: 5", "  bulets_max: 5"), "field 'weekly_insights.bulets_max'"),
        (lambda t: t.replace("  local_hour: 9", "  local_hour: 25"), "field 'weekly_insights.local_hour'"),
        (
            lambda t: t.replace("kind: weekly_insights", "kind: weekly_insight"),
            "unknown job kind 'weekly_insight'",
        ),
        (
            lambda t: t.replace("kind: weekly_insights", "kind: anomaly_flags"),
            "field 'weekly_insights': a section for kind 'weekly_insights'",
        ),
        (
            lambda t: t.replace("  sql:\n", "  rss: {feeds: [x.xml]}\n  sql:\n"),
            "field 'sources': kind 'weekly_insights' reads the business database",
        ),
        (
            lambda t: t + "channels:\n  - {type: email, to: [a@example.org]}\n",
            "field 'channels': kind 'weekly_insights' delivers to each team's own",
        ),
        (
            lambda t: t.replace("  member_preview: true", "  member_previews: true"),
            "field 'team_delivery.member_previews'",
        ),
        (lambda t: t + "fan_out: {chunk_size: 0}\n", "field 'fan_out.chunk_size'"),
        (lambda t: t + "fan_out: {chunks: 0}\n", "field 'fan_out.chunks'"),
        (lambda t: t + "fan_out: {chunk: 3}\n", "field 'fan_out.chunk'"),
    ],
)
def test_a_kind_mistake_names_the_file_the_field_and_the_fix(tmp_path, edit, message):
    path = spec_file(tmp_path, edit(INSIGHTS))
    with pytest.raises(JobSpecError) as raised:
        load_spec(path)
    assert str(raised.value).startswith(f"{path}: invalid job spec: ")
    assert message in str(raised.value)


def test_a_fan_out_kind_gets_its_own_schedule_unless_the_spec_names_one(tmp_path):
    assert load_spec(spec_file(tmp_path, INSIGHTS)).schedule == "0 * * * 0,1,6"
    custom = INSIGHTS.replace("kind: weekly_insights\n", "kind: weekly_insights\nschedule: '30 * * * 0,6'\n")
    assert load_spec(spec_file(tmp_path, custom)).schedule == "30 * * * 0,6"


def test_the_kinds_settings_know_the_jobs_own_schedule_in_its_time_zone(tmp_path):
    from datetime import UTC, datetime

    monday = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)  # Monday 00:30 UTC, Sunday 19:30 in New York
    assert not load_spec(spec_file(tmp_path, INSIGHTS)).kind_settings().runs_at(monday)  # :00 only
    sundays_there = "schedule: '30 * * * 0'\ntimezone: America/New_York\n"
    custom = INSIGHTS.replace("kind: weekly_insights\n", f"kind: weekly_insights\n{sundays_there}")
    settings = load_spec(spec_file(tmp_path, custom)).kind_settings()
    assert settings.runs_at(monday)  # a Sunday in the schedule's own zone
    assert not settings.runs_at(datetime(2026, 11, 29, 0, 30, tzinfo=UTC))  # Saturday 19:30 there
    daily = INSIGHTS.replace("kind: weekly_insights\n", "kind: weekly_insights\nschedule: '@daily'\n")
    assert load_spec(spec_file(tmp_path, daily)).kind_settings().runs_at(datetime(2026, 11, 30, tzinfo=UTC))


def test_batch_mode_is_for_fan_out_kinds_and_names_the_fix(tmp_path):
    digest = (REPO / "include" / "jobs" / "daily-digest.yaml").read_text()
    path = spec_file(tmp_path, digest.replace("mode: structured", "mode: batch", 1))
    with pytest.raises(
        JobSpecError, match=r"field 'mode': mode: batch sends one request per team.*mode: structured"
    ):
        load_spec(path)
    assert (
        load_spec(spec_file(tmp_path, INSIGHTS.replace("mode: structured", "mode: batch", 1))).mode == "batch"
    )


def test_chunks_are_opt_in_and_taken_by_kinds_with_apply_or_publish_steps(tmp_path):
    assert load_spec(spec_file(tmp_path, INSIGHTS)).fan_out.chunk_size == 1
    chunked = load_spec(spec_file(tmp_path, INSIGHTS + "fan_out: {chunk_size: 10, concurrency: 3}\n"))
    assert (chunked.fan_out.chunk_size, chunked.fan_out.concurrency) == (10, 3)
    for shipped in ("reconciliation", "enrichment", "compliance-report"):
        text = (REPO / "include" / "jobs" / f"{shipped}.yaml").read_text() + "fan_out: {chunk_size: 10}\n"
        assert load_spec(spec_file(tmp_path, text)).fan_out.chunk_size == 10, shipped


@pytest.mark.parametrize("fan_out", ["{chunk_size: 10}", "{chunks: 2}"])
def test_a_spec_with_a_persons_review_on_refuses_chunks_naming_the_setting_to_change(tmp_path, fan_out):
    text = (REPO / "include" / "jobs" / "reconciliation.yaml").read_text()
    on = text.replace("enabled: false", "enabled: true", 1)
    assert on != text
    with pytest.raises(JobSpecError) as raised:
        load_spec(spec_file(tmp_path, on + f"fan_out: {fan_out}\n"))
    kind = "reconciliation"
    field = "fan_out.chunks" if "chunks" in fan_out else "fan_out.chunk_size"
    assert f"field '{field}': kind '{kind}' asks a person to review" in str(raised.value)
    assert f"set {kind}.review.enabled to false to take chunks" in str(raised.value)
    # The same spec with its review off chunks.
    assert load_spec(spec_file(tmp_path, text + f"fan_out: {fan_out}\n")).fan_out.chunked


def test_chunks_the_rate_limit_cannot_keep_busy_are_merged_keeping_the_calls_in_flight(tmp_path):
    fan_out = load_spec(spec_file(tmp_path, INSIGHTS + "fan_out: {chunks: 16, concurrency: 4}\n")).fan_out
    # No limiter: the spec's chunks as they are.
    assert fan_out.layout_for(200, None) == ChunkLayout(size=13, concurrency=4)
    # 57 requests/min: a chunk holds at least two minutes of the limit (114 teams), so 200 teams
    # make 2 chunks, each running the calls of the 8 chunks it stands for at once.
    assert fan_out.layout_for(200, 57) == ChunkLayout(size=100, concurrency=32, merged_from=16)
    # A limit that keeps more chunks busy leaves more: 600/min is ten chunks' worth.
    assert fan_out.layout_for(200, 600) == ChunkLayout(size=20, concurrency=7, merged_from=16)
    assert fan_out.layout_for(200, 3000) == ChunkLayout(size=13, concurrency=4)
    assert fan_out.layout_for(4000, 100) == ChunkLayout(size=250, concurrency=4)
    # Fewer teams than a chunk's floor: one chunk, every call the spec allowed at once.
    assert fan_out.layout_for(7, 57) == ChunkLayout(size=7, concurrency=28, merged_from=7)
    # A fixed chunk_size is the user's own sizing: never merged.
    sized = load_spec(spec_file(tmp_path, INSIGHTS + "fan_out: {chunk_size: 5}\n")).fan_out
    assert sized.layout_for(200, 57) == ChunkLayout(size=5, concurrency=4)


def test_batch_mode_takes_chunks(tmp_path):
    batch = INSIGHTS.replace("mode: structured", "mode: batch", 1)
    spec = load_spec(spec_file(tmp_path, batch + "fan_out: {chunks: 2}\n"))
    assert spec.mode == "batch" and spec.fan_out.chunked


def test_chunks_split_each_runs_due_teams_into_as_many_tasks_as_the_pool_has_slots(tmp_path):
    spec = load_spec(spec_file(tmp_path, INSIGHTS + "fan_out: {chunks: 4}\n"))
    assert spec.fan_out.chunked
    assert [spec.fan_out.size_for(teams) for teams in (200, 201, 3, 0)] == [50, 51, 1, 1]
    with pytest.raises(JobSpecError, match="not both"):
        load_spec(spec_file(tmp_path, INSIGHTS + "fan_out: {chunks: 4, chunk_size: 10}\n"))

"""A job's stored runs as `agentjobs eval` finds them, and what a stored transcript says was spent."""

from __future__ import annotations

import json

from agentjobs.jobs.stored_runs import stored_runs, transcript_usage


def _run(folder, snapshot=True):
    folder.mkdir(parents=True)
    if snapshot:
        (folder / "sources").mkdir()
        (folder / "sources" / "sql.json").write_text("{}")


def test_a_digest_s_last_runs_newest_first_and_nothing_else_below_the_job(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    for day in ("2026-11-20", "2026-11-22", "2026-11-21"):
        _run(tmp_path / "daily_digest" / day)
    _run(tmp_path / "daily_digest" / "_evals")
    (tmp_path / "daily_digest" / "2026-11-23").write_text("a file, not a run")
    runs = stored_runs("daily_digest", fans_out=False, last_n=2)
    assert [r.label for r in runs] == ["2026-11-22", "2026-11-21"]
    assert stored_runs("nothing_here", fans_out=False, last_n=2) == []


def test_a_fan_out_job_s_last_runs_per_team_and_a_folder_without_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path))
    for team, day in (("t1", "2026-11-20"), ("t1", "2026-11-21"), ("t2", "2026-11-21T0900Z")):
        _run(tmp_path / "anomaly_flags" / team / day)
    _run(tmp_path / "anomaly_flags" / "t2" / "2026-11-22", snapshot=False)
    _run(tmp_path / "anomaly_flags" / "_evals" / "2026-11-22")
    runs = stored_runs("anomaly_flags", fans_out=True, last_n=1)
    assert [(r.label, r.has_snapshot()) for r in runs] == [("t1/2026-11-21", True), ("t2/2026-11-22", False)]
    assert runs[0].team == "t1" and runs[0].period == "2026-11-21"


def test_a_transcript_s_calls_tokens_seconds_and_model(tmp_path):
    path = tmp_path / "transcript.jsonl"
    usage = {"prompt_tokens": 300, "completion_tokens": 50, "total_tokens": 350}
    lines = [
        {"event": "start", "ts": 100.0, "model": "scripted"},
        {"event": "completion", "ts": 101.5, "response": {"usage": usage}},
        {"event": "replayed", "ts": 101.6, "response": {"usage": usage}},  # paid before: not counted
        {"event": "completion", "ts": 102.25, "response": {"usage": usage}},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n{cut by a kill")
    assert transcript_usage(path) == {
        "calls": 2,
        "tokens": 700,
        "prompt_tokens": 600,
        "completion_tokens": 100,
        "latency_s": 2.25,
        "model": "scripted",
    }
    assert transcript_usage(tmp_path / "none.jsonl") == {}

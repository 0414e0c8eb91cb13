"""The transcript file: one valid JSON object a line, whatever the tools and the model produced,
with no secret in it."""

from __future__ import annotations

import json
from pathlib import Path

from agentjobs.agent.transcript import Transcript
from tests.agent.test_scrub import HOSTILE, _random_hostile

SECRET = 'cfg-pa"ss\\w0rd'


def read_back(path: Path) -> list[dict]:
    raw = path.read_bytes().decode("utf-8")  # strict: a lone surrogate would not have been written
    return [json.loads(line) for line in raw.splitlines()]


def test_every_hostile_string_is_recorded_as_a_line_that_parses(tmp_path: Path) -> None:
    strings = [*HOSTILE, *_random_hostile(1000), f"the key {SECRET} echoed", SECRET]
    path = tmp_path / "transcript.jsonl"
    with Transcript(path, secrets=[SECRET]) as transcript:
        for text in strings:
            # Where untrusted text lands: a tool's result, its JSON arguments, a model reply.
            transcript.record(
                "tool",
                name="read_file",
                arguments=json.dumps({"path": text}),
                ok=True,
                result=text,
                response={"choices": [{"message": {"content": text}}]},
            )
    events = read_back(path)
    assert len(events) == len(strings)  # \x85 or \u2028 never split a line for splitlines()
    assert events == transcript.events
    text = path.read_text(encoding="utf-8")
    assert "w0rd" not in text
    # The escaping backslash is kept: the value is masked, not the line's shape.
    assert events[0]["result"] == 'password=\\"***\\"'


def test_a_planted_secret_in_tool_arguments_and_results_never_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "transcript.jsonl"
    planted = [  # (how it shows up, the secret part)
        ("https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/c0ffeec0ffeec0ffee", "c0ffeec0ffee"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.Zm9vYmFyYmF6cXV4cXV1eA", "eyJzdWIiOiJib2IifQ"),
        ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBrq7dLk9J\n-----END EC PRIVATE KEY-----", "MHcCAQEEIBrq"),
        ("https://deploy:s/3c#ret@git.example.org/a.git", "s/3c#ret"),
        ("redis://:r3d1s-pw@cache:6379", "r3d1s-pw"),
        ("Cookie: session=5e55i0n-v4lue", "5e55i0n-v4lue"),
    ]
    with Transcript(path) as transcript:
        for text, _ in planted:
            transcript.record(
                "tool",
                name="http_get",
                arguments=json.dumps({"url": "https://example.com", "password": "hunter2-arg"}),
                result=text,
            )
    content = path.read_text()
    for part in [*(secret for _, secret in planted), "hunter2-arg"]:
        assert part not in content
    assert all(line for line in read_back(path))


def test_a_deep_or_huge_value_is_recorded_without_raising(tmp_path: Path) -> None:
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    path = tmp_path / "transcript.jsonl"
    with Transcript(path) as transcript:
        transcript.record("result", result={"deep": deep, "big": 10**5000, "nan": float("nan")})
    (event,) = read_back(path)
    assert event["result"]["nan"] == "nan" and event["result"]["big"].startswith("<integer of")


def test_without_a_file_nothing_is_kept_so_nothing_unscrubbed_either(tmp_path: Path) -> None:
    # Events of a run without a transcript are neither scrubbed (that was most of the loop's own
    # time) nor kept raw: nothing holds them for anyone to read.
    transcript = Transcript(None, secrets=[SECRET])
    transcript.record("tool", name="read_file", result=f"the key {SECRET} echoed")
    assert transcript.events == []
    path = tmp_path / "transcript.jsonl"
    with Transcript(path, secrets=[SECRET]) as written:
        written.record("tool", name="read_file", result=f"the key {SECRET} echoed")
    assert read_back(path) == written.events and written.events[0]["result"] == "the key *** echoed"


def test_a_killed_run_leaves_every_event_up_to_its_last_completed_model_call(tmp_path: Path) -> None:
    # SIGKILL: no close, no exit handler, nothing flushed on the way out.
    import subprocess
    import sys

    path = tmp_path / "transcript.jsonl"
    script = f"""
import os, signal
from pathlib import Path
from agentjobs.agent.transcript import Transcript
t = Transcript(Path({str(path)!r}))
t.record("start", messages=[])
t.record("completion", response={{"n": 1}})
t.record("tool", name="read_file", result="one")
t.record("tool", name="read_file", result="two")
t.checkpoint()  # the loop, before it waits on the next call
t.record("completion", response={{"n": 2}})
os.kill(os.getpid(), signal.SIGKILL)
"""
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=60)
    assert done.returncode == -9, done.stderr
    events = [(e["event"], e.get("result") or e.get("response")) for e in read_back(path)]
    assert events == [
        ("start", None),
        ("completion", {"n": 1}),
        ("tool", "one"),
        ("tool", "two"),
        ("completion", {"n": 2}),
    ]


def test_the_tool_results_are_in_the_file_before_the_model_is_asked_again(
    model_server, tmp_path: Path
) -> None:
    from tests.agent.test_loop import GOOD, make_agent, run
    from tests.fakes.model_server import reply, respond, tool_call

    (tmp_path / "notes.txt").write_text("alpha")
    path = tmp_path / "transcript.jsonl"
    seen: list[list[str]] = []

    def second_call(request):
        # What a kill during this call would leave behind.
        seen.append([json.loads(line)["event"] for line in path.read_text().splitlines()])
        return reply(GOOD)

    model_server.script(tool_call("read_file", {"path": "notes.txt"}, call_id="c1"), respond(second_call))
    with Transcript(path) as transcript:
        run(make_agent(model_server, tmp_path, transcript=transcript))
    assert seen == [["start", "completion", "tool"]]


def test_a_transcript_in_a_folder_not_made_yet_makes_it_and_appends_to_an_existing_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs" / "2026-12-06" / "transcript.jsonl"
    with Transcript(path) as first:
        first.record("start", mode="loop")
    with Transcript(path) as retry:  # a retry of the task appends to the same file
        retry.record("start", mode="loop")
    assert [event["event"] for event in read_back(path)] == ["start", "start"]

"""Agent-loop overhead: the agentjobs runtime against the bare openai SDK and against the peer.

One zero-latency OpenAI-compatible server, in a process of its own
(bench/support/zero_latency_server.py), scripts the same conversation for every side: `add`
tool calls, one a turn, then the answer; 10 model calls a conversation, and again 200. Each side
holds CALLS model calls' worth of those conversations, in a long-lived process of its own, so
only the loop is timed:

- bare SDK: `openai.OpenAI` in a hand-written tool loop, the same prompts and tool;
- library: run_skill (runner.py, loop.py, tools.py, the budget meter, the RESULT contract), with
  no transcript file, no replay cache, no spend store and no secrets;
- operator: run_skill configured as AgentOperator configures it (the transcript file, the
  connection's key scrubbed, the replay cache and the spend saved to a task state store after
  every call, the iteration logged): what a task pays, the way the peer is timed;
- peer: apache-airflow-providers-common-ai's AgentOperator (pydantic-ai) in its own venv
  under bench/.cache/ (made on first use from the package registry; `--no-peer` skips it), at
  10 calls a conversation.

Each side runs in WORKERS processes of its own; repetitions are interleaved over all of them,
the order rotating, and a side's figure is the median of its processes' best repetitions, so
drift and other work on a shared machine hit every side alike, and so does the luck of one
process's memory layout: code that changed little has measured 0.78x to 1.13x the bare SDK at 10 calls in
single processes, while its instruction count (callgrind) stayed within 2.3% of the bare SDK's.
The goal is on CPU time (the worker's own; the server's work is in another process), wall time
is in the note. Per-call overhead is (side - bare) / calls.

Beside it, each side's instructions per model call at 10 calls a conversation, counted by
callgrind in one process a side (bench/support/callgrind.py; skipped with a reason where
valgrind is missing, or with --no-instructions): a count the machine's load and a process's
luck do not move, so it tells whether a CPU-time ratio is the code's. It leaves out the
kernel's work for the process and the CPU's speed at the instructions, which CPU time has.

    python bench/loop_overhead.py [--quick] [--no-peer] [--no-instructions]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# `common` as bench/run_all.py imports it; the repository for bench.support and tests.fakes.
sys.path[:0] = [str(REPO / "bench"), str(REPO)]

from bench.support import callgrind  # noqa: E402
from bench.support.loop_script import ADD_TOOL, add, system_prompt  # noqa: E402
from common import Result, header, markdown_table  # noqa: E402

from agentjobs.agent.tools import tool_from_function  # noqa: E402

BENCHMARK = "agent-loop overhead"
CALLS = 200  # model calls a repetition: 20 conversations of 10 calls, or one of 200
CONVERSATION_LENGTHS = (10, 200)  # model calls a conversation
# Repetitions by conversation length: a call of a 200-call conversation costs ~10x one of a
# 10-call one (the SDK encodes the whole history each call), so fewer are taken there. At 10
# calls a repetition takes ~0.6 s, and on a shared 2-core VM the same code's CPU time moves by a
# fifth from one to the next, in slow spells lasting seconds (2026-12-07: one bare-SDK process
# 2.98-4.26 ms a call over five repetitions, and the five-repetition bests of four such processes
# 2.93-4.31 ms); fifteen give every process of every side a fair chance at a quiet moment.
REPETITIONS = {10: 15, 200: 2}
WORKERS = 3  # processes per side: their median best, not one process's luck
SIDES = ("bare", "agentjobs", "operator")
# Conversations of CONVERSATION_LENGTHS[0] calls counted in instructions (bench/support/callgrind.py)
# after each worker's warm-up; under callgrind a conversation takes seconds, and the count does not
# vary, so a few are enough.
COUNTED_CONVERSATIONS = 3
GOAL_RATIO = 1.10
SUPPORT = REPO / "bench" / "support"
PEER_VENV = REPO / "bench" / ".cache" / "peer-venv"
# The peer as measured; installed with the project's constraints, so Airflow and openai are
# the versions agentjobs runs on, and pydantic-ai-slim as the registry resolved it then.
PEER_REQUIREMENT = "apache-airflow-providers-common-ai[openai]==1.0.0"


def peer_ready() -> bool:
    marker = PEER_VENV / "installed.txt"
    return (
        (PEER_VENV / "bin" / "python").is_file()
        and marker.is_file()
        and (marker.read_text().strip() == PEER_REQUIREMENT)
    )


def peer_python() -> tuple[Path | None, str]:
    """The peer venv's interpreter, installing it on first use; (None, why) when it cannot be had."""
    python = PEER_VENV / "bin" / "python"
    if peer_ready():
        return python, ""
    print(f"loop_overhead: installing the peer ({PEER_REQUIREMENT}) into {PEER_VENV} …", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "-c",
                str(REPO / "constraints.txt"),
                PEER_REQUIREMENT,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return None, f"peer venv could not be installed: {' '.join(detail.split())[-300:]}"
    (PEER_VENV / "installed.txt").write_text(PEER_REQUIREMENT + "\n")
    return python, ""


class Side:
    """A worker process holding conversations on request (bench/support/*_worker.py protocol)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        """Start the worker; `wait_ready` waits for it (so several start side by side)."""
        self.name = name
        self.samples: list[float] = []  # wall seconds a repetition
        self.cpu_samples: list[float] = []  # the worker's CPU seconds a repetition
        # Its logs (the peer logs every tool call) are kept out of the table, for a failure's reason.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=REPO,
            bufsize=1,
            env=env,
        )

    def wait_ready(self) -> Side:
        ready = self._line()
        if ready != "ready":
            raise RuntimeError(f"{self.name} worker did not start (said {ready!r})")
        return self

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line and self.process.wait(timeout=10) is not None:
            self.log.seek(0)
            last = " ".join(self.log.read().split())[-300:]
            raise RuntimeError(f"{self.name} worker exited with {self.process.returncode}: {last}")
        return line

    def repetition(self, conversations: int, calls: int) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"run {conversations}\n")
        self.process.stdin.flush()
        done = json.loads(self._line())
        if done["calls"] != conversations * calls:
            raise RuntimeError(f"{self.name} made {done['calls']} calls, not {conversations * calls}")
        self.samples.append(done["seconds"])
        self.cpu_samples.append(done.get("cpu_seconds", done["seconds"]))

    # The best repetition: on a shared machine other work only ever adds time, and the
    # rotation gave every side the same chances at a quiet moment.
    @property
    def per_call_ms(self) -> float:
        return min(self.samples) / CALLS * 1000

    @property
    def cpu_per_call_ms(self) -> float:
        return min(self.cpu_samples) / CALLS * 1000

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@contextlib.contextmanager
def zero_latency_server() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(SUPPORT / "zero_latency_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_command(side: str, base_url: str, calls: int) -> list[str]:
    return [sys.executable, str(SUPPORT / "loop_worker.py"), side, base_url, str(calls)]


def start_sides(base_url: str, calls: int, peer_command: list[str] | None) -> tuple[list[Side], str]:
    """The workers for conversations of `calls` calls; the peer's, if asked, or why it is missing."""
    sides: list[Side] = []
    peer_missing = ""
    try:
        for _ in range(WORKERS):
            for name in SIDES:
                sides.append(Side(name, worker_command(name, base_url, calls)).wait_ready())
        if peer_command is not None:
            try:
                sides += [Side("peer", peer_command).wait_ready() for _ in range(WORKERS)]
            except RuntimeError as exc:
                peer_missing = f"peer did not run: {exc}"
    except BaseException:
        for side in sides:
            side.close()
        raise
    return sides, peer_missing


class SideGroup:
    """One side's worker processes: its figure is the median of their best repetitions."""

    def __init__(self, processes: list[Side]) -> None:
        self.processes = processes

    @property
    def per_call_ms(self) -> float:
        return statistics.median(p.per_call_ms for p in self.processes)

    @property
    def cpu_per_call_ms(self) -> float:
        return statistics.median(p.cpu_per_call_ms for p in self.processes)

    @property
    def cpu_spread(self) -> str:
        bests = sorted(p.cpu_per_call_ms for p in self.processes)
        return f"{bests[0]:.2f}-{bests[-1]:.2f} ms"


def timed_sides(
    base_url: str, calls: int, repetitions: int, peer_command: list[str] | None
) -> tuple[dict[str, SideGroup], str]:
    sides, peer_missing = start_sides(base_url, calls, peer_command)
    try:
        for rep in range(repetitions):
            for side in sides[rep % len(sides) :] + sides[: rep % len(sides)]:
                side.repetition(CALLS // calls, calls)
    finally:
        for side in sides:
            side.close()
    names = dict.fromkeys(s.name for s in sides)
    return {name: SideGroup([s for s in sides if s.name == name]) for name in names}, peer_missing


def side_row(side: SideGroup, bare: SideGroup, what: str, calls: int, repetitions: int) -> Result:
    ours, base = side.cpu_per_call_ms, bare.cpu_per_call_ms
    wall, base_wall = side.per_call_ms, bare.per_call_ms
    conversations = CALLS // calls
    return Result(
        BENCHMARK,
        f"{what}, {calls} calls a conversation: CPU ms per model call vs bare openai SDK",
        ours,
        base,
        "ms",
        f"ratio <= {GOAL_RATIO}",
        ours / base <= GOAL_RATIO,
        f"{CALLS} calls ({conversations} conversation{'s' if conversations > 1 else ''} of {calls - 1} "
        f"tool calls + answer), median of {WORKERS} processes' best of {repetitions}, interleaved (bests "
        f"{side.cpu_spread}, bare {bare.cpu_spread}); overhead {ours - base:+.2f} ms/call; "
        f"wall {wall:.2f} ms vs {base_wall:.2f} ms, ratio {wall / base_wall:.3f}",
    )


def measure(quick: bool = False, peer: bool = True, instructions: bool = True) -> list[Result]:
    # The bare side sends ADD_TOOL as written; it must be what agentjobs derives from `add`.
    assert tool_from_function(add).spec() == ADD_TOOL, tool_from_function(add).spec()
    if not peer:
        peer_python_path, peer_missing = None, "not run (--no-peer)"
    elif quick and not peer_ready():
        # Installing the peer takes minutes on 2 cores; a quick run only uses one already there.
        peer_python_path, peer_missing = None, f"not run: --quick does not install the peer into {PEER_VENV}"
    else:
        peer_python_path, peer_missing = peer_python()
    results: list[Result] = []
    with zero_latency_server() as base_url, tempfile.TemporaryDirectory() as tmp:
        system_file = Path(tmp) / "system.txt"
        system_file.write_text(system_prompt(Path(tmp)), encoding="utf-8")
        for calls in CONVERSATION_LENGTHS:
            peer_command = None
            if peer_python_path is not None and calls == CONVERSATION_LENGTHS[0]:
                peer_command = [
                    str(peer_python_path),
                    str(SUPPORT / "peer_worker.py"),
                    base_url,
                    str(system_file),
                ]
            repetitions = 2 if quick else REPETITIONS[calls]
            by_name, missing = timed_sides(base_url, calls, repetitions, peer_command)
            peer_missing = missing or peer_missing
            bare = by_name["bare"]
            results += [
                side_row(by_name["agentjobs"], bare, "library", calls, repetitions),
                side_row(by_name["operator"], bare, "operator", calls, repetitions),
            ]
            if calls == CONVERSATION_LENGTHS[0]:
                results += peer_rows(by_name, peer_missing)
        if instructions:
            calls = CONVERSATION_LENGTHS[0]
            per_call, why = count_instructions(base_url, calls, COUNTED_CONVERSATIONS)
            results += instruction_rows(per_call, why, calls, COUNTED_CONVERSATIONS)
    return results


def count_instructions(base_url: str, calls: int, conversations: int) -> tuple[dict[str, float], str]:
    """Each side's instructions per model call over `conversations` conversations of `calls`
    calls (one process a side under callgrind), or why they were not counted."""
    why = callgrind.available()
    if why:
        return {}, why
    per_call: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as out:
        out_dir = Path(out)
        command = [callgrind.command(worker_command(n, base_url, calls), out_dir) for n in SIDES]
        # Started side by side: importing Airflow under callgrind takes minutes.
        sides = [
            Side(name, argv, env=callgrind.environment()) for name, argv in zip(SIDES, command, strict=True)
        ]
        try:
            for side in sides:
                side.wait_ready()
                counted = callgrind.count(
                    side.process.pid, out_dir, lambda side=side: side.repetition(conversations, calls)
                )
                per_call[side.name] = counted / (conversations * calls)
        except RuntimeError as exc:
            return {}, f"not counted: {exc}"
        finally:
            for side in sides:
                side.close()
    return per_call, ""


def instruction_rows(per_call: dict[str, float], why: str, calls: int, conversations: int) -> list[Result]:
    if not per_call:
        metric = "instructions per model call vs bare openai SDK"
        return [Result(BENCHMARK, metric, math.nan, None, "instr", "-", None, why)]
    note = (
        f"callgrind: user-space instructions of {conversations} conversations of {calls} calls after a "
        f"warm-up, one process a side, PYTHONHASHSEED={callgrind.HASH_SEED}; the same code counts the "
        "same on every run (the kernel's work and the CPU's speed at them are in CPU time only)"
    )
    return [
        Result(
            BENCHMARK,
            f"{what}, {calls} calls a conversation: instructions per model call vs bare openai SDK",
            per_call[side],
            per_call["bare"],
            "instr",
            "none (noise-free check of the CPU-time ratio)",
            None,
            note,
        )
        for side, what in (("agentjobs", "library"), ("operator", "operator"))
    ]


def peer_rows(by_name: dict[str, SideGroup], peer_missing: str) -> list[Result]:
    ours = by_name["operator"].cpu_per_call_ms
    if "peer" not in by_name:
        return [
            Result(
                BENCHMARK,
                "CPU ms per model call vs the peer",
                ours,
                None,
                "ms",
                "ratio < 1",
                None,
                peer_missing,
            )
        ]
    bare, peer = by_name["bare"].cpu_per_call_ms, by_name["peer"].cpu_per_call_ms
    return [
        Result(
            BENCHMARK,
            "peer CPU ms per model call vs bare openai SDK",
            peer,
            bare,
            "ms",
            "none (peer measured ~1.5x before)",
            None,
            f"common-ai AgentOperator.execute (pydantic-ai); overhead {peer - bare:+.2f} ms/call",
        ),
        Result(
            BENCHMARK,
            "CPU ms per model call vs the peer",
            ours,
            peer,
            "ms",
            "ratio < 1",
            ours < peer,
            "agentjobs as the operator configures it against common-ai's AgentOperator, same server "
            "and conversation",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repetitions a length, peer only if installed")
    parser.add_argument("--no-peer", action="store_true", help="skip the peer (no venv install)")
    parser.add_argument(
        "--no-instructions", action="store_true", help="skip counting instructions under callgrind"
    )
    args = parser.parse_args()
    print(header())
    print()
    print(
        markdown_table(
            measure(quick=args.quick, peer=not args.no_peer, instructions=not args.no_instructions)
        )
    )


if __name__ == "__main__":
    main()

"""What every benchmark returns, and the markdown table `bench/run_all.py` prints.

A benchmark measures both sides in the same run on the same machine: ours and a baseline.
The ratio (ours / baseline) is what carries across machines; absolute numbers are printed
too, with their unit, so a reader can tell a fast machine from a good ratio.
"""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Result:
    benchmark: str  # e.g. "tokens per digest"
    metric: str  # what was measured, e.g. "prompt+completion tokens"
    ours: float
    baseline: float | None  # None when the benchmark has no second side (e.g. memory)
    unit: str  # "tokens", "ms", "MB", "req/min"...
    goal: str  # human text, e.g. "ratio <= 0.05"
    met: bool | None  # None: no goal to meet
    note: str = ""  # what the baseline was, coverage, anything a reader needs

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.ours / self.baseline


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def machine() -> str:
    """One line naming the machine: CPU model, cores, memory, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(__import__("os").sched_getaffinity(0))
    mem_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return f"{cpu}, {cores} cores, {mem_gib:.0f} GiB, Python {platform.python_version()}"


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def markdown_table(results: Iterable[Result]) -> str:
    rows = [
        "| benchmark | metric | agentjobs | baseline | ratio | goal | met | note |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        note = " ".join(r.note.split()).replace("|", "\\|")  # one table row, whatever the note says
        met = "-" if r.met is None else ("yes" if r.met else "**no**")
        ratio = "-" if r.ratio is None else f"{r.ratio:.3f}"
        rows.append(
            f"| {r.benchmark} | {r.metric} | {_number(r.ours)} {r.unit} | "
            f"{_number(r.baseline)}{'' if r.baseline is None else ' ' + r.unit} | {ratio} | {r.goal} | "
            f"{met} | {note} |"
        )
    return "\n".join(rows)


def header() -> str:
    taken = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Taken {taken} at commit {commit()} on {machine()}."

"""Instructions a worker process executes for one request, counted by valgrind's callgrind.

CPU time on a shared 2-core machine moves with each process's luck (its memory layout, what
else runs): the same code has measured 0.78x to 1.13x the bare SDK in single processes. The
count of instructions a process executes in user space does not move, so it is the check that
a ratio of CPU times is the code's and not the machine's. It leaves out what the kernel does
for the process (its writes, its socket reads) and how fast the CPU runs the instructions
(cache misses, branch prediction); CPU time has both.

The worker starts under valgrind uninstrumented; once it has said `ready` (warmed up),
instrumentation is switched on and the counters zeroed, the request is sent (callgrind runs it
~50x slower than its normal pace), and the counters are dumped when it has answered
(`callgrind_control`, which reaches the blocked process through valgrind's gdbserver), so the
count covers that request alone. PYTHONHASHSEED is fixed so that a rerun counts the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

HASH_SEED = "0"


def available() -> str:
    """Why instructions cannot be counted here ("" when they can)."""
    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    return f"not counted: {' and '.join(missing)} not installed" if missing else ""


def command(argv: list[str], out_dir: Path) -> list[str]:
    """`argv` run under callgrind, its dumps written to `out_dir` (one file a dump)."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--quiet",
        # Start and warm up uninstrumented (several times faster: importing Airflow under full
        # instrumentation takes minutes); `count` switches instrumentation on.
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir}/callgrind.%p",
        *argv,
    ]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": HASH_SEED}


def count(pid: int, out_dir: Path, request: Callable[[], None]) -> int:
    """The instructions process `pid` (under `command`) executes while `request()` runs."""
    _control(pid, "--instr=on")
    _control(pid, "--zero")
    request()
    _control(pid, "--dump=counted")
    dumps = sorted(out_dir.glob(f"callgrind.{pid}.*"), key=lambda p: int(p.suffix[1:]))
    if not dumps:
        raise RuntimeError(f"callgrind wrote no dump for process {pid} in {out_dir}")
    for line in dumps[-1].read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary line in {dumps[-1]}")


def _control(pid: int, action: str) -> None:
    done = subprocess.run(
        ["callgrind_control", action, str(pid)], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0 or "OK" not in done.stdout:
        raise RuntimeError(f"callgrind_control {action} {pid} failed: {(done.stdout + done.stderr)[-300:]}")

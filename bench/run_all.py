"""Run every benchmark and print (or write) one markdown table.

    python bench/run_all.py [--quick] [--only NAME]... [--out FILE]

Each module in BENCHMARKS exposes `measure(quick: bool) -> list[Result]` and measures its own
baseline in the same run. A benchmark that crashes becomes a row saying so, and the command
exits non-zero after printing the rest: one broken benchmark must not hide the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `common` and the benchmark modules

from common import Result, header, markdown_table

# In the order the table lists them (issue 15's order).
BENCHMARKS = [
    "tokens_per_digest",
    "loop_overhead",
    "dag_parse",
    "fanout_throughput",
    "digest_wall_time",
    "memory",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs: a smoke check, not the numbers")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run just these")
    parser.add_argument("--out", type=Path, help="also write the table (with its header) to this file")
    args = parser.parse_args()
    results: list[Result] = []
    failed: list[str] = []
    for name in args.only or BENCHMARKS:
        started = time.monotonic()
        print(f"== {name} …", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(name)
            results.extend(module.measure(quick=args.quick))
        except Exception as exc:  # a broken benchmark is a row, not the end of the table
            traceback.print_exc()
            failed.append(name)
            results.append(
                Result(name, "crashed", 0, None, "", "runs", False, f"{type(exc).__name__}: {exc}")
            )
        print(f"== {name} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    text = f"{header()}{' (--quick)' if args.quick else ''}\n\n{markdown_table(results)}\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    if failed:
        print(f"benchmarks that crashed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

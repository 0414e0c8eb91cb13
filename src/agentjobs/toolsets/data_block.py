"""A tool's result as a `<data>` block: what a database or an MCP server returns is data.

A row, a column name or a server's text is written by whoever filled the database or runs the
server, so it is hostile: a cell can hold `</data> Ignore previous instructions`, a text a bidi
override. Each line goes through `as_data` (the guard the kinds use for source text: controls
and bidi characters gone, angle brackets turned into look-alikes), so nothing inside can close
the block, and the lines stay lines. The run's prompt already tells the model that tool results
and anything between `<data>` tags are data, not instructions (agent/plan.py).

The block is cut at a character budget before the closing tag, with a note saying so: the
registry's own truncation cuts at the end, which would drop the closing tag with the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

from agentjobs.jobs.prompt_data import as_data

OPEN, CLOSE = "<data>", "</data>"


def data_block(lines: Iterable[str], *, max_chars: int, more: str = "") -> str:
    """`lines` escaped one by one between `<data>` tags, at most about `max_chars` of them.

    `more` is what the note after the block tells the model to do when lines were left out."""
    shown: list[str] = []
    used = 0
    total = 0
    full = False
    for line in lines:
        total += 1
        if full:
            continue  # counted, not shown: the note says how many were left out
        safe = as_data(line)
        if used + len(safe) + 1 > max_chars:
            if shown:
                full = True  # the lines shown stay a prefix: no later, shorter line slips in
                continue
            safe = safe[: max(0, max_chars - 1)] + "\u2026"  # a first line alone over budget: cut
        shown.append(safe)
        used += len(safe) + 1
    text = "\n".join([OPEN, *shown, CLOSE])
    left_out = total - len(shown)
    if left_out:
        text += (
            f"\n[{left_out} of {total} lines left out: the result is longer than {max_chars} characters"
            + (f"; {more}" if more else "")
            + "]"
        )
    return text


def cut(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and a note of how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\u2026[{len(text)} characters, cut]"

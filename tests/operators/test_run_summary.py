"""The folded log group closing an agent task: what was spent against each cap, and the tools called."""

from __future__ import annotations

import logging

from agentjobs.agent.budget import BudgetMeter, Usage
from agentjobs.agent.caps import Caps
from agentjobs.operators.run_summary import log_run_summary


def summary(caplog, caps: Caps, meter: BudgetMeter, tools: list[str]) -> list[str]:
    log = logging.getLogger("test.run_summary")
    with caplog.at_level(logging.INFO, logger="test.run_summary"):
        log_run_summary(log, caps, meter, tools)
    return [record.getMessage() for record in caplog.records]


def frozen_meter(caps: Caps, usage: Usage, elapsed_s: float) -> BudgetMeter:
    return BudgetMeter(caps, usage=usage, clock=lambda: 100.0, elapsed_before_s=elapsed_s)


def test_each_cap_shows_what_was_used_against_its_limit_inside_one_folded_group(caplog):
    caps = Caps(max_iterations=40, max_total_tokens=60_000, max_cost_usd=0.5, timeout_s=900)
    usage = Usage(
        iterations=3, prompt_tokens=1200, completion_tokens=345, total_tokens=1545, cost_usd=0.01234
    )
    lines = summary(caplog, caps, frozen_meter(caps, usage, 12.34), ["git_log", "read_file", "git_log"])
    assert lines[0] == "::group::Agent run summary" and lines[-1] == "::endgroup::"
    body = "\n".join(lines)
    assert _row(lines, "iterations") == ["3", "/", "40"]
    assert _row(lines, "total tokens") == ["1545", "/", "60000"]
    assert "1200 prompt + 345 completion" in body
    assert _row(lines, "cost (USD)") == ["0.0123", "/", "0.5000"]
    assert _row(lines, "time (s)") == ["12.3", "/", "900"]
    assert "tool calls: git_log → read_file → git_log" in body


def test_a_cap_left_unset_reads_no_cap_and_a_run_without_tools_says_none(caplog):
    caps = Caps(max_total_tokens=None, max_cost_usd=None, timeout_s=None)
    lines = summary(caplog, caps, frozen_meter(caps, Usage(iterations=1), 0.0), [])
    assert _row(lines, "total tokens") == ["0", "/", "no", "cap"]
    assert _row(lines, "cost (USD)") == ["0.0000", "/", "no", "cap"]
    assert _row(lines, "time (s)") == ["0", "/", "no", "cap"]
    assert "  tool calls: none" in lines


def _row(lines: list[str], name: str) -> list[str]:
    """The words after a row's name: used, '/', limit."""
    (line,) = [line for line in lines if line.strip().startswith(name)]
    return line.strip()[len(name) :].split()

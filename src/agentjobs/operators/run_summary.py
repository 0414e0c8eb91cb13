"""The closing log group of an agent task: spend against each cap and the tool sequence."""

from __future__ import annotations

import logging

from agentjobs.agent.budget import BudgetMeter
from agentjobs.agent.caps import Caps


def _line(name: str, used: float, limit: float | None, fmt: str = "{:g}") -> str:
    limit_text = "no cap" if limit is None else fmt.format(limit)
    return f"  {name:<18} {fmt.format(used):>12} / {limit_text}"


def log_run_summary(log: logging.Logger, caps: Caps, meter: BudgetMeter, tools: list[str]) -> None:
    u = meter.usage
    # Airflow's log viewer folds the lines between ::group:: and ::endgroup:: markers.
    log.info("::group::Agent run summary")
    log.info(_line("iterations", u.iterations, caps.max_iterations))
    log.info(_line("total tokens", u.total_tokens, caps.max_total_tokens))
    log.info("  %-18s %12d prompt + %d completion", "", u.prompt_tokens, u.completion_tokens)
    log.info(_line("cost (USD)", u.cost_usd, caps.max_cost_usd, "{:.4f}"))
    log.info(_line("time (s)", round(meter.elapsed_s, 1), caps.timeout_s))
    log.info("  tool calls: %s", " → ".join(tools) if tools else "none")
    log.info("::endgroup::")

"""The closing log group of an agent task: spend against each cap and the tool sequence."""

from __future__ import annotations

import logging

from agentjobs.agent.budget import Budget, BudgetMeter


def _line(name: str, used: float, limit: float | None, fmt: str = "{:g}") -> str:
    limit_text = "no cap" if limit is None else fmt.format(limit)
    return f"  {name:<18} {fmt.format(used):>12} / {limit_text}"


def log_run_summary(log: logging.Logger, budget: Budget, meter: BudgetMeter, tools: list[str]) -> None:
    u = meter.usage
    # Airflow's log viewer folds the lines between ::group:: and ::endgroup:: markers.
    log.info("::group::Agent run summary")
    log.info(_line("iterations", u.iterations, budget.max_iterations))
    log.info(_line("total tokens", u.total_tokens, budget.max_total_tokens))
    log.info("  %-18s %12d prompt + %d completion", "", u.prompt_tokens, u.completion_tokens)
    log.info(_line("cost (USD)", u.cost_usd, budget.max_cost_usd, "{:.4f}"))
    log.info(_line("time (s)", round(meter.elapsed_s, 1), budget.timeout_s))
    log.info("  tool calls: %s", " → ".join(tools) if tools else "none")
    log.info("::endgroup::")

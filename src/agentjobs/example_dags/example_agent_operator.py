"""AgentOperator in a hand-written DAG, without a skill folder: a system prompt, a pydantic
output type, a toolset and caps a triggered run may change.

A toolset is a group of tools sharing one resource (a database connection, an MCP server): it is
opened when the run starts and closed when it ends, however it ends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from airflow.sdk import DAG, Param, task
from pydantic import BaseModel, Field

from agentjobs.agent.tools import Tool, tool_from_function
from agentjobs.operators.agent import AgentOperator

STOCK = {
    "SKU-1": {"name": "Desk lamp", "on_hand": 3, "weekly_sales": 12},
    "SKU-2": {"name": "Chair", "on_hand": 40, "weekly_sales": 5},
}


class StockBook:
    """A toolset over a stock list. A real one would open a connection in `tools()`."""

    def __init__(self, stock: dict[str, dict]) -> None:
        self.stock = stock
        self.is_open = False

    def tools(self) -> Sequence[Tool]:
        self.is_open = True

        def skus() -> str:
            """Every SKU in stock, as a JSON list."""
            return json.dumps(sorted(self.stock))

        def stock_level(sku: str) -> str:
            """The SKU's name, units on hand and units sold per week, as JSON."""
            return json.dumps(self.stock.get(sku) or {"error": f"no SKU {sku}"})

        return [tool_from_function(skus), tool_from_function(stock_level)]

    def close(self) -> None:
        self.is_open = False


class Reorder(BaseModel):
    skus: list[str] = Field(description="The SKUs to reorder this week, most urgent first.")
    reason: str


with DAG(
    "example_agent_operator",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["agentjobs", "example"],
    params={"caps": Param({"max_iterations": 8, "max_total_tokens": 30_000}, type="object")},
) as dag:
    reorder = AgentOperator(
        task_id="reorder",
        system_prompt="You plan the weekly reorder. Check every SKU's stock before you answer.",
        prompt="Which SKUs run out within two weeks?",
        output_type=Reorder,
        tools=[StockBook(STOCK)],
        caps="{{ params.caps | tojson }}",  # a triggered run may tighten them
        retries=2,
    )

    @task
    def order(plan: dict) -> list[str]:
        return plan["skus"]

    order(reorder.output)

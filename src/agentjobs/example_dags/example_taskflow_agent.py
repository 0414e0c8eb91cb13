"""``@task.agentjobs``: an agent task with a pydantic answer, two Python tools and caps.

The decorated function returns the prompt; the model may call the two functions (their
docstrings and type hints describe them); its answer is validated as a ``Triage`` and the
task's XCom is that answer as a dict, which the next task reads like any other.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from airflow.sdk import dag, task
from pydantic import BaseModel

# The demo's records, in the file: a DAG file does no I/O when it is parsed.
INVOICES = {
    "INV-1001": {"customer": "Acme GmbH", "amount_eur": 1200.0, "due": "2026-11-01"},
    "INV-1002": {"customer": "Birch & Co", "amount_eur": 80.0, "due": "2026-12-20"},
}
PAYMENTS = {"INV-1001": [{"amount_eur": 200.0, "on": "2026-11-20"}]}


def invoice(number: str) -> str:
    """The invoice's customer, amount in EUR and due date, as JSON."""
    return json.dumps(INVOICES.get(number) or {"error": f"no invoice {number}"})


def payments(number: str) -> str:
    """The payments received for the invoice, as a JSON list."""
    return json.dumps(PAYMENTS.get(number, []))


class Triage(BaseModel):
    invoice: str
    open_eur: float
    action: Literal["wait", "remind", "escalate"]


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["agentjobs", "example"])
def example_taskflow_agent() -> None:
    # The agent task: these ten lines are all it takes.
    @task.agentjobs(
        system_prompt="You triage unpaid invoices. Look the invoice and its payments up first.",
        output_type=Triage,
        tools=[invoice, payments],
        caps={"max_iterations": 6, "max_total_tokens": 20_000},
        retries=2,
    )
    def triage(number: str) -> str:
        return f"Triage invoice {number}: how much is still open, and what should we do?"

    @task
    def report(verdict: dict) -> str:
        return f"{verdict['invoice']}: {verdict['action']} ({verdict['open_eur']:.2f} EUR open)"

    report(triage("INV-1001"))


example_taskflow_agent()

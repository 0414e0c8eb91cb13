"""example_agent_operator.py: AgentOperator without a skill folder, with a toolset, an output
type and caps a triggered run may tighten, run with dag.test() against the scripted model."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.example_dags.conftest import example, states
from tests.fakes.model_server import reply, tool_call

pytestmark = pytest.mark.airflow


def test_the_toolsets_tools_answer_the_model_and_the_result_goes_to_the_next_task(default_llm, model_server):
    namespace = example("example_agent_operator")
    closed: list[bool] = []
    book = namespace["StockBook"]
    close = book.close

    def recorded_close(self) -> None:
        closed.append(self.is_open)
        close(self)

    book.close = recorded_close
    model_server.script(
        tool_call("skus", {}),
        tool_call("stock_level", {"sku": "SKU-1"}),
        reply('RESULT: {"skus": ["SKU-1"], "reason": "3 on hand, 12 sold a week"}'),
    )
    run = run_dag(namespace["dag"], logical_date=datetime(2026, 11, 2, tzinfo=UTC))
    assert states(run) == {"reorder": "success", "order": "success"}
    assert xcom(run, "reorder") == {"skus": ["SKU-1"], "reason": "3 on hand, 12 sold a week"}
    assert xcom(run, "order") == ["SKU-1"]
    tool_results = [m["content"] for m in model_server.requests[2].body["messages"] if m["role"] == "tool"]
    assert json.loads(tool_results[0]) == ["SKU-1", "SKU-2"]
    assert json.loads(tool_results[1])["on_hand"] == 3
    # The toolset was opened for the run and closed once after it.
    assert closed == [True]
    # The model saw the output type's schema, with the field's description.
    system = model_server.requests[0].body["messages"][0]["content"]
    assert "The SKUs to reorder this week" in system and "You plan the weekly reorder" in system


def test_a_triggered_run_tightens_the_caps_through_its_conf(default_llm, model_server):
    namespace = example("example_agent_operator")
    model_server.default_step = tool_call("skus", {})
    run = run_dag(
        namespace["dag"],
        logical_date=datetime(2026, 11, 3, tzinfo=UTC),
        run_conf={"caps": {"max_iterations": 2}},
    )
    assert states(run) == {"reorder": "failed", "order": "upstream_failed"}
    assert model_server.calls == 2
    assert "max_iterations limit 2" in xcom(run, "reorder", key="usage")["error"]

"""AgentOperator without a skill folder, as a hand-written DAG uses it: system_prompt,
output_type and tools (typed functions, toolsets, built-in names); with a skill, tools and an
output type added to it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydantic
import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.example_dags.conftest import states, tries
from tests.fakes.model_server import reply, tool_call

pytestmark = pytest.mark.airflow

START = datetime(2026, 1, 1, tzinfo=UTC)


class Verdict(pydantic.BaseModel):
    city: str
    high_c: float


def high(city: str) -> str:
    """Today's forecast high in degrees Celsius."""
    return {"Oslo": "4", "Lisbon": "19"}.get(city, "unknown")


class Clashing:
    """A toolset offering a tool named like a built-in."""

    closed = False

    def tools(self) -> Sequence:
        from agentjobs.agent.tools import tool_from_function

        def read_file(path: str) -> str:
            """Read a row."""
            return path

        return [tool_from_function(read_file)]

    def close(self) -> None:
        Clashing.closed = True


def agent_dag(dag_id: str, conn_id: str, **kwargs):
    from airflow.sdk import DAG

    from agentjobs.operators.agent import AgentOperator

    kwargs.setdefault("prompt", "How warm is Oslo today?")
    with DAG(dag_id, schedule=None, start_date=START) as dag:
        AgentOperator(task_id="ask", llm_conn_id=conn_id, **kwargs)
    return dag


def offered(request) -> list[str]:
    return [spec["function"]["name"] for spec in request.body.get("tools") or []]


def test_an_agent_without_a_skill_gets_its_tools_its_prompt_and_pushes_the_answer(llm_conn, model_server):
    model_server.script(
        tool_call("high", {"city": "Oslo"}),
        reply('RESULT: {"city": "Oslo", "high_c": 4}'),
    )
    dag = agent_dag(
        "inline_ok", llm_conn, system_prompt="You read forecasts.", output_type=Verdict, tools=[high]
    )
    run = run_dag(dag, logical_date=datetime(2026, 11, 2, tzinfo=UTC))
    assert states(run) == {"ask": "success"}
    assert xcom(run, "ask") == {"city": "Oslo", "high_c": 4.0}
    assert xcom(run, "ask", key="usage")["iterations"] == 2
    first, second = model_server.requests
    assert offered(first) == ["high"]  # no built-in unless named
    assert first.body["messages"][0]["content"].startswith("You read forecasts.")
    assert second.body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": second.body["messages"][-2]["tool_calls"][0]["id"],
        "content": "4",
    }


def test_a_built_in_is_offered_when_named(llm_conn, model_server):
    model_server.script(reply('RESULT: {"city": "Oslo", "high_c": 4}'))
    dag = agent_dag("inline_named", llm_conn, output_type=Verdict, tools=[high, "list_files"])
    run_dag(dag, logical_date=datetime(2026, 11, 3, tzinfo=UTC))
    assert offered(model_server.requests[0]) == ["list_files", "high"]


def test_a_toolset_tool_named_like_a_built_in_fails_before_any_call_naming_both(llm_conn, model_server):
    dag = agent_dag("inline_clash", llm_conn, tools=[Clashing()], retries=2, retry_delay=timedelta(0))
    run = run_dag(dag, logical_date=datetime(2026, 11, 4, tzinfo=UTC))
    assert states(run) == {"ask": "failed"} and tries(run, "ask") == 1
    assert model_server.calls == 0
    failure = xcom(run, "ask", key="usage")["error"]
    assert "two tools are named 'read_file': the built-in tool and a tool of the toolset Clashing" in failure
    assert Clashing.closed  # opened for the run, so closed after it


def test_a_skill_keeps_its_tools_and_gains_the_tasks_own_tool_and_output_type(
    llm_conn, model_server, tmp_path
):
    model_server.script(reply('RESULT: {"city": "Oslo", "high_c": 4}'))
    dag = agent_dag(
        "inline_skill",
        llm_conn,
        skill="echo",
        output_type=Verdict,
        tools=[high],
        work_dir=str(tmp_path / "work"),
    )
    run = run_dag(dag, logical_date=datetime(2026, 11, 5, tzinfo=UTC))
    assert offered(model_server.requests[0]) == ["read_file", "list_files", "write_file", "high"]
    # A skill's task still pushes the small dict; its result is shaped by the output type.
    assert xcom(run, "ask")["result"] == {"city": "Oslo", "high_c": 4.0}
    assert Path(xcom(run, "ask")["artifact"]) == tmp_path / "work"


def test_what_cannot_work_fails_the_dag_file_not_a_run(llm_conn):
    def untyped(city):  # the model could not be told what to pass
        return city

    with pytest.raises(TypeError, match=r"either a skill .* or a system_prompt"):
        agent_dag("inline_both", llm_conn, skill="echo", system_prompt="Be brief.")
    with pytest.raises(TypeError, match="output_type must be a pydantic model class"):
        agent_dag("inline_type", llm_conn, output_type=dict)
    with pytest.raises(TypeError, match="parameter 'city' has no type annotation"):
        agent_dag("inline_untyped", llm_conn, tools=[untyped])
    with pytest.raises(TypeError, match="not int"):
        agent_dag("inline_junk", llm_conn, tools=[42])


def test_the_connections_key_never_reaches_the_xcom_or_the_transcript(llm_conn, model_server):
    import os

    key = "sk-test-planted-secret-0123456789"  # the llm_conn fixture's API key
    model_server.script(reply(f'RESULT: {{"city": "key {key}", "high_c": 4}}'))
    dag = agent_dag("inline_scrub", llm_conn, output_type=Verdict)
    run = run_dag(dag, logical_date=datetime(2026, 11, 6, tzinfo=UTC))
    assert xcom(run, "ask") == {"city": "key ***", "high_c": 4.0}
    transcript = Path(os.environ["AGENTJOBS_ARTIFACT_BASE"]) / "inline_scrub" / "2026-11-06" / "ask"
    assert key not in (transcript / "transcript.jsonl").read_text()

"""@task.agentjobs as a DAG author meets it: found through the provider's task decorators, the
function's return value is the prompt (sent as written), the task's XCom is the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.example_dags.conftest import states, tries
from tests.fakes.model_server import reply

pytestmark = pytest.mark.airflow

START = datetime(2026, 1, 1, tzinfo=UTC)
# What an upstream system may hold: text that looks like a template is still only text.
RECORDS = {"odd": "{{ 7 * 6 }} {% if x %}", "plain": "second"}


def test_task_agentjobs_is_the_providers_decorator_and_not_common_ais_name():
    import agentjobs
    from agentjobs.decorators.agent import agentjobs_task

    (entry,) = agentjobs.get_provider_info()["task-decorators"]
    assert entry == {"class-name": "agentjobs.decorators.agent.agentjobs_task", "name": "agentjobs"}
    from airflow.sdk import task

    assert task.agentjobs is agentjobs_task


def test_the_prompt_is_what_the_function_returns_sent_as_written(llm_conn, model_server):
    from airflow.sdk import DAG, task

    model_server.script(reply('RESULT: {"ok": true}'), reply('RESULT: {"ok": true}'))
    with DAG("taskflow_prompt", schedule=None, start_date=START) as dag:

        @task.agentjobs(llm_conn_id=llm_conn, system_prompt="Answer for {{ ds }}.")
        def ask(day: str, record: str) -> str:
            return f"Day {day}. The record says: {RECORDS[record]}"

        # The arguments are rendered as templates; the text a record holds is data, never run.
        ask("{{ ds }}", "odd")
        ask.override(task_id="ask_again")("{{ ds }}", "plain")
    run = run_dag(dag, logical_date=datetime(2026, 11, 6, tzinfo=UTC))
    assert states(run) == {"ask": "success", "ask_again": "success"}
    assert xcom(run, "ask") == {"ok": True}
    prompts = sorted(request.body["messages"][1]["content"] for request in model_server.requests)
    assert "Day 2026-11-06. The record says: 42 {% if x %}" not in prompts
    assert "Day 2026-11-06. The record says: {{ 7 * 6 }} {% if x %}" in prompts
    assert "Answer for 2026-11-06." in model_server.requests[0].body["messages"][0]["content"]


def test_each_agent_task_of_a_dag_keeps_its_own_transcript(llm_conn, model_server, airflow_db):
    import os
    from pathlib import Path

    from airflow.sdk import DAG, task

    model_server.script(reply('RESULT: {"n": 1}'), reply('RESULT: {"n": 2}'))
    with DAG("taskflow_folders", schedule=None, start_date=START) as dag:

        @task.agentjobs(llm_conn_id=llm_conn)
        def first() -> str:
            return "one"

        @task.agentjobs(llm_conn_id=llm_conn)
        def second() -> str:
            return "two"

        first() >> second()
    run_dag(dag, logical_date=datetime(2026, 11, 7, tzinfo=UTC))
    folder = Path(os.environ["AGENTJOBS_ARTIFACT_BASE"]) / "taskflow_folders" / "2026-11-07"
    transcripts = {path.parent.name: path.read_text() for path in folder.glob("*/transcript.jsonl")}
    assert set(transcripts) == {"first", "second"}
    assert '"one"' in transcripts["first"] and '"two"' in transcripts["second"]


def test_a_function_that_returns_no_prompt_fails_at_once_without_a_model_call(llm_conn, model_server):
    from airflow.sdk import DAG, task

    with DAG("taskflow_no_prompt", schedule=None, start_date=START) as dag:

        @task.agentjobs(llm_conn_id=llm_conn, retries=2, retry_delay=timedelta(0))
        def ask() -> str:
            return None  # type: ignore[return-value]

        ask()
    run = run_dag(dag, logical_date=datetime(2026, 11, 8, tzinfo=UTC))
    assert states(run) == {"ask": "failed"} and tries(run, "ask") == 1
    assert model_server.calls == 0


def test_a_skill_is_refused_with_what_to_use_instead():
    from agentjobs.decorators.agent import agentjobs_task

    with pytest.raises(TypeError, match="use system_prompt, not a skill"):
        agentjobs_task(skill="echo")


def test_a_mapped_agent_task_answers_once_per_item_each_in_a_folder_of_its_own(llm_conn, model_server):
    import os
    from pathlib import Path

    from airflow.sdk import DAG, task

    from tests.fakes.model_server import respond

    def answer(request):
        city = request.body["messages"][1]["content"].removeprefix("How warm is ")
        return reply(f'RESULT: {{"city": "{city}"}}')

    model_server.default_step = respond(answer)
    with DAG("taskflow_mapped", schedule=None, start_date=START) as dag:

        @task.agentjobs(llm_conn_id=llm_conn)
        def warm(city: str) -> str:
            return f"How warm is {city}"

        warm.expand(city=["Oslo", "Lisbon"])
    run = run_dag(dag, logical_date=datetime(2026, 11, 9, tzinfo=UTC))
    assert [xcom(run, "warm", map_index=i) for i in (0, 1)] == [{"city": "Oslo"}, {"city": "Lisbon"}]
    folder = Path(os.environ["AGENTJOBS_ARTIFACT_BASE"]) / "taskflow_mapped" / "2026-11-09" / "warm"
    assert sorted(path.parent.name for path in folder.glob("*/transcript.jsonl")) == ["0", "1"]


def test_a_failing_primary_hands_the_call_to_the_fallback_connection(llm_conn, model_server, backup_llm):
    from airflow.sdk import DAG, task

    from tests.airflow.conftest import BACKUP_LLM_CONN_ID
    from tests.fakes.model_server import error

    model_server.script(error(503, "primary overloaded"))
    backup_llm.script(reply('RESULT: {"ok": true}', model="backup-model"))
    with DAG("taskflow_fallback", schedule=None, start_date=START) as dag:

        @task.agentjobs(llm_conn_id=llm_conn, fallback_conn_ids=[BACKUP_LLM_CONN_ID])
        def ask() -> str:
            return "Are you there?"

        ask()
    run = run_dag(dag, logical_date=datetime(2026, 11, 10, tzinfo=UTC))
    assert xcom(run, "ask") == {"ok": True}
    assert xcom(run, "ask", key="usage")["answered_by"] == BACKUP_LLM_CONN_ID
